"""Lock-order deadlock detection (Linux's lockdep idea) and self-deadlock detection.

A deadlock between locks needs an unlucky schedule to happen, but not to be
predicted: whenever a thread is about to wait for lock B while it holds lock A,
the edge A -> B goes into a graph of lock orders. A cycle in that graph (A -> B
and B -> A; or A -> B -> C -> A) means some threads take the same locks in
different orders, and if they ran at the same moment each would wait for the
next one forever -- even if this run was lucky and did not hang.

- Edges are recorded when a thread *starts waiting* (a blocking `acquire()`
  without timeout), so a run that really deadlocks still completes its cycle
  and reports it before it hangs. Non-blocking and timed acquires cannot wait
  forever (back-off strategies use them) and add no edge; re-entering an RLock
  the thread owns cannot wait at all and adds none.
- Gatekeeper rule: a cycle whose edges were all taken while holding one same
  other lock G cannot deadlock (only one thread at a time can be inside G).
  More precisely, each edge keeps the distinct sets of locks held when it was
  taken, and a cycle is reported only if one occurrence per edge can be chosen
  with pairwise disjoint held sets (threads cannot hold the same lock at once).
- A thread calling a blocking `acquire()` on a non-reentrant Lock it already
  holds waits for itself forever: reported at once as a self-deadlock.

Cycles and self-deadlocks are written through `grader.checks.findings` the
moment they are seen (the run may hang and be killed right after), and listed
again in the report of `stop()` (a self-deadlock whose acquire did return,
because another thread released the lock, is not listed there).
"""

from __future__ import annotations

import _thread
import itertools

from grader.checks import findings, locks

MAX_CYCLE = 4  # locks in a cycle looked for
MAX_CYCLES = 20  # cycles reported in full
MAX_HELD_SETS = 8  # distinct held-lock sets kept per edge (the empty-gate one always)
SEARCH_BUDGET = 20_000  # graph steps per cycle search
MAX_SELF = 20

_get_ident = _thread.get_ident


class _Occurrence:
    __slots__ = ("thread", "held", "site", "ids")

    def __init__(self, thread, held, site, ids):
        self.thread = thread  # thread name
        self.held = held  # ((lock, site), ...) held when it started waiting
        self.site = site  # where it started waiting for the edge's second lock
        self.ids = ids  # frozenset of the held locks' ids


class _Edge:
    __slots__ = ("src", "dst", "serial", "occurrences")

    def __init__(self, src, dst, serial):
        self.src, self.dst, self.serial = src, dst, serial
        self.occurrences: dict = {}  # frozenset of held ids -> _Occurrence


class LockOrder:
    name = "lockorder"

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.mutex = _thread.allocate_lock()
        self.edges: dict = {}  # (id(a), id(b)) -> _Edge
        self.succ: dict = {}  # id(a) -> {id(b): _Edge}
        self.serials = itertools.count(1)
        self.cycles: list[dict] = []
        self.reported: set = set()  # canonical keys of reported cycles
        self.gated: dict = {}  # canonical key -> cycle edges, for cycles ruled out by a gate
        self.truncated = False
        self.self_deadlocks: list[dict] = []
        self.pending: dict = {}  # thread ident -> (lock, record) of a self-deadlock attempt

    # ------------------------------------------------------------ listener
    def on_attempt(self, lock, site, blocking, timeout, held) -> None:
        if not held or not blocking or timeout != -1:
            return
        if lock._owner == _get_ident():
            if not lock.reentrant:
                self._self_deadlock(lock, site, held)
            return
        ids = frozenset(held)
        lid = id(lock)
        edges = self.edges
        for h, _site in list(held.values()):
            edge = edges.get((id(h), lid))
            if edge is None or ids not in edge.occurrences:
                self._add(h, lock, site, ids, held)

    def _resolved(self, lock, site) -> None:
        """Hooked on acquisitions once a self-deadlock was reported (not before: it costs)."""
        if self.pending:
            p = self.pending.get(_get_ident())
            if p is not None and p[0] is lock:  # another thread released it: no self-deadlock
                p[1]["resolved"] = True
                del self.pending[_get_ident()]

    # ------------------------------------------------------------ the graph
    def _add(self, h, lock, site, ids, held) -> None:
        if h is lock:
            return
        new = []
        with self.mutex:
            key = (id(h), id(lock))
            edge = self.edges.get(key)
            if edge is None:
                edge = self.edges[key] = _Edge(h, lock, next(self.serials))
                self.succ.setdefault(id(h), {})[id(lock)] = edge
            if ids in edge.occurrences:
                return
            if len(edge.occurrences) >= MAX_HELD_SETS and len(ids) > 1:
                return
            edge.occurrences[ids] = _Occurrence(
                locks.thread_name(), tuple(held.values()), site, ids
            )
            if len(self.cycles) >= MAX_CYCLES:
                self.truncated = True
                return
            for cycle in self._cycles_through(edge):
                report = self._check_cycle(cycle)
                if report is not None:
                    new.append(report)
        for report in new:
            findings.report("lock-cycle", **report)

    def _cycles_through(self, edge) -> list[list]:
        """Cycles (lists of edges, `edge` first) closed by `edge`: paths from its second lock
        back to its first, of at most MAX_CYCLE locks."""
        goal, out = id(edge.src), []
        budget = SEARCH_BUDGET
        stack = [(id(edge.dst), [edge], {id(edge.src), id(edge.dst)})]
        while stack and budget > 0:
            node, path, seen = stack.pop()
            for nxt, e in list(self.succ.get(node, {}).items()):
                budget -= 1
                if nxt == goal:
                    out.append(path + [e])
                elif len(path) < MAX_CYCLE - 1 and nxt not in seen:
                    stack.append((nxt, path + [e], seen | {nxt}))
        return out

    def _check_cycle(self, cycle: list) -> dict | None:
        ids = [id(e.src) for e in cycle]
        i = ids.index(min(ids))
        key = tuple(ids[i:] + ids[:i])
        if key in self.reported:
            return None
        chosen = _disjoint_choice(cycle)
        if chosen is None:
            self.gated[key] = cycle
            return None
        self.gated.pop(key, None)
        self.reported.add(key)
        first = min(range(len(cycle)), key=lambda k: cycle[k].serial)  # the order seen first
        cycle, chosen = cycle[first:] + cycle[:first], chosen[first:] + chosen[:first]
        report = _describe(cycle, chosen)
        self.cycles.append(report)
        return report

    # ------------------------------------------------------------ self-deadlock
    def _self_deadlock(self, lock, site, held) -> None:
        entry = held.get(id(lock))
        name = locks.label(lock)
        first = locks.site_dict(entry[1] if entry else None)
        second = locks.site_dict(site)
        thread = locks.thread_name()
        record = {
            "lock": name,
            "thread": thread,
            "first": first,
            "second": second,
            "explanation": (
                f"{thread} holds {name} (taken at {_where(first)}) and asks for it "
                f"again at {_where(second)}: a Lock cannot be taken twice, even by "
                "the thread that holds it, so the thread waits for itself forever."
            ),
        }
        with self.mutex:
            if len(self.self_deadlocks) >= MAX_SELF:
                return
            self.self_deadlocks.append(record)
            self.pending[_get_ident()] = (lock, record)
            if self._resolved not in locks._on_acquired:
                locks._on_acquired.append(self._resolved)
        findings.report("self-deadlock", **record)

    # ------------------------------------------------------------ report
    def stop(self) -> dict:
        with self.mutex:
            gated = [locks.labels([e.src for e in c]) for c in list(self.gated.values())[:5]]
            return {
                "intact": locks.intact(),
                "locks": locks.created(),
                "acquisitions": locks.acquisitions(),
                "edges": len(self.edges),
                "cycles": list(self.cycles),
                "truncated": self.truncated,
                "gated_cycles": gated,
                "self_deadlocks": [
                    {k: v for k, v in r.items() if k != "resolved"}
                    for r in self.self_deadlocks
                    if not r.get("resolved")
                ],
            }


def _disjoint_choice(cycle: list) -> list | None:
    """One occurrence per edge whose held-lock sets are pairwise disjoint, or None (every way
    the edges were taken shares a lock: a gate that keeps them from running at once)."""
    options = [sorted(e.occurrences.values(), key=lambda o: len(o.ids)) for e in cycle]

    def pick(i, used, chosen):
        if i == len(options):
            return chosen
        for occ in options[i]:
            if not (occ.ids & used):
                found = pick(i + 1, used | occ.ids, chosen + [occ])
                if found is not None:
                    return found
        return None

    return pick(0, frozenset(), [])


def _where(site: dict) -> str:
    code = f" `{site['code']}`" if site.get("code") else ""
    return f"{site['file']} line {site['line']}{code}"


def _describe(cycle: list, chosen: list) -> dict:
    everything: list = []
    for e, occ in zip(cycle, chosen):
        for lk in [e.src, e.dst] + [h for h, _ in occ.held]:
            if all(lk is not x for x in everything):
                everything.append(lk)
    names = dict(zip(map(id, everything), locks.labels(everything)))
    sites = []
    for e, occ in zip(cycle, chosen):
        held_site = next((s for h, s in occ.held if h is e.src), None)
        sites.append(
            {
                "thread": occ.thread,
                **locks.site_dict(occ.site),
                "lock": names[id(e.dst)],
                "holding": [names[id(h)] for h, _ in occ.held],
                "held_lock": names[id(e.src)],
                "held_at": locks.site_dict(held_site),
            }
        )
    steps = "; ".join(
        f"{s['thread']} holds {s['held_lock']} (taken at {_where(s['held_at'])}) and waits for "
        f"{s['lock']} at {_where(s)}"
        for s in sites
    )
    return {
        "locks": [names[id(e.src)] for e in cycle],
        "sites": sites,
        "explanation": (
            f"The locks are taken in a cycle: {steps}. If these run at the same time, "
            "each thread waits for a lock the next one holds, forever."
        ),
    }


def start(options: dict, workdir: str) -> LockOrder:
    check = LockOrder(workdir)
    locks.install(workdir)
    locks.want_sites()
    locks.add_listener(check)
    return check
