"""Judge-side helpers for the lockorder check: lock-order cycles and self-deadlocks, in words.

    reply = student.reply(probe, 2, 100, checks={"lockorder": {}}, timeout=5)
    raise_for_locks(reply)                      # a hang explained by what the check saw
    expect_no_self_deadlock(reply, "deposit()")
    expect_no_lock_cycles(reply, "transfer()", hint="Take the two locks by account id.")

Where the run finished, the check's report (`reply.checks["lockorder"]`) is the
evidence; where it hung and was killed there is no report, and the findings the
check wrote the moment it saw them (`reply.raw["findings"]`, kinds "lock-cycle"
and "self-deadlock") are used instead.
"""

from __future__ import annotations

from grader.judge import verdicts
from grader.judge.proxy import STALL_DEADLOCK, Reply, raise_for

CHECK = "lockorder"
ORDER_HINT = ("Always take locks in one global order (for example sorted by account id, or by "
              "id() of the lock), so no two threads can wait for each other.")
RLOCK_HINT = ("Use threading.RLock, which the thread holding it may take again, or do not take "
              "the lock again in a function that is called with it already held.")


# ---------------------------------------------------------------- evidence

def _reports(reply: Reply) -> list[dict]:
    """The lockorder reports of the run (one per rank under MPI); [] if none came back."""
    raw = reply.raw
    results = raw["ranks"] if isinstance(raw.get("ranks"), list) else [raw]
    return [r["checks"][CHECK] for r in results
            if isinstance(r, dict) and isinstance(r.get("checks"), dict) and CHECK in r["checks"]]


def _findings(reply: Reply, kind: str) -> list[dict]:
    return [f for f in reply.raw.get("findings") or [] if isinstance(f, dict) and f.get("kind") == kind]


def _evidence(reply: Reply, key: str, kind: str) -> list[dict]:
    """Cycles or self-deadlocks: from the check's report if the run finished, else from findings.
    Raises `Failed` when the student's code switched the lock tracking off."""
    reports = _reports(reply)
    for report in reports:
        if not report.get("intact", True):
            raise verdicts.Failed(
                f"Your code switched off the grader's {CHECK} instrumentation (for example by "
                "putting back threading.Lock or threading.RLock), so this check could not run and "
                "earns no points.", check=CHECK)
    if reports:
        return [item for report in reports for item in report.get(key) or []]
    if reply.status == "ok":
        raise verdicts.SandboxFault(f"the {CHECK} check did not report")
    return _findings(reply, kind)  # hung or died: what the check wrote while it ran


# ---------------------------------------------------------------- wording

def _thread(name: str) -> str:
    return str(name).replace(" (<lambda>)", "")


def _at(site: dict, file: str | None = None, with_code: bool = True) -> str:
    where = f"line {site.get('line', '?')}" if site.get("file") == file else \
        f"{site.get('file', '?')} line {site.get('line', '?')}"
    code = f" `{site['code']}`" if with_code and site.get("code") else ""
    return where + code


def _lines(first: dict, second: dict, file: str | None) -> str:
    a, b = first.get("line"), second.get("line")
    prefix = "" if first.get("file") == second.get("file") == file else f"{second.get('file', '?')} "
    if a == b:
        return f"{prefix}line {a}"
    if isinstance(a, int) and isinstance(b, int) and b == a + 1:
        return f"{prefix}lines {a}-{b}"
    return f"{prefix}lines {a} and {b}"


def _status_note(reply: Reply) -> str:
    if reply.status == "timeout":
        return f" This is what happened here: the run hung and was stopped after {reply.waited}."
    return (" This run happened not to hang (the threads did not collide at the wrong moment), "
            "but another run can.")


def cycle_message(cycle: dict, what: str, reply: Reply | None = None, hint: str = "") -> str:
    """One lock-order cycle of the check's report, in words for the student."""
    sites = cycle.get("sites") or []
    if not sites:
        text = f"Possible deadlock in {what}: {cycle.get('explanation', 'locks are taken in a cycle')}"
    elif len(sites) == 2:
        s1, s2 = sites
        file = s1.get("held_at", {}).get("file")
        same = _thread(s1["thread"]) == _thread(s2["thread"])
        other = ("while elsewhere the same thread" if same else f"while thread {_thread(s2['thread'])}")
        text = (f"Possible deadlock in {what}: thread {_thread(s1['thread'])} takes lock "
                f"{s1['held_lock']} ({_at(s1['held_at'])}) and then, still holding it, lock "
                f"{s1['lock']} ({_at(s1, file)}), {other} takes {s2['held_lock']} then "
                f"{s2['lock']} ({_lines(s2['held_at'], s2, file)}). If "
                + ("two threads do this" if same else "both run")
                + " at the same moment, each waits for the other forever.")
    else:
        file = sites[0].get("held_at", {}).get("file")
        steps = "; ".join(
            f"thread {_thread(s['thread'])} holds {s['held_lock']} "
            f"({_at(s['held_at'], file if i else None)}) and then takes {s['lock']} ({_at(s, file)})"
            for i, s in enumerate(sites))
        text = (f"Possible deadlock in {what}: {len(sites)} locks are taken in a cycle: {steps}. "
                "If these run at the same moment, each thread waits for a lock the next one holds, "
                "forever.")
    if reply is not None:
        text += _status_note(reply)
    return f"{text} {hint or ORDER_HINT}"


def self_deadlock_message(record: dict, what: str, hint: str = "") -> str:
    first, second = record.get("first") or {}, record.get("second") or {}
    fn1 = f", in {first['function']}()" if first.get("function") not in (None, "?") else ""
    fn2 = f", in {second['function']}()" if second.get("function") not in (None, "?") else ""
    file = first.get("file")
    return (f"Deadlock in {what}: thread {_thread(record.get('thread', '?'))} takes "
            f"{record.get('lock', 'a lock')} ({_at(first)}{fn1}) and then, still holding it, asks "
            f"for it again ({_at(second, file)}{fn2}). A threading.Lock cannot be taken twice, even "
            f"by the thread that holds it, so the thread waits for itself forever. {hint or RLOCK_HINT}")


# ---------------------------------------------------------------- expectations

def expect_no_lock_cycles(reply: Reply, what: str | None = None, hint: str = "") -> None:
    """Raise `Deadlock` if threads took locks in orders that can deadlock (even if this run did
    not hang)."""
    what = what or reply.what
    cycles = _evidence(reply, "cycles", "lock-cycle")
    if cycles:
        raise verdicts.Deadlock(cycle_message(cycles[0], what, reply, hint), cycles=cycles)


def expect_no_self_deadlock(reply: Reply, what: str | None = None, hint: str = "") -> None:
    """Raise `Deadlock` if a thread asked for a Lock it already held (it then waits forever)."""
    what = what or reply.what
    found = _evidence(reply, "self_deadlocks", "self-deadlock")
    if found:
        raise verdicts.Deadlock(self_deadlock_message(found[0], what, hint), self_deadlocks=found)


def raise_for_locks(reply: Reply, hint: str = "") -> None:
    """Like `raise_for` (a verdict for every status but `ok`), but a hang the lockorder check saw
    coming -- a self-deadlock, or a lock-order cycle while no thread was busy -- gets the
    `Deadlock` verdict that names the locks and lines instead of only where threads were stuck."""
    if reply.status != "timeout":
        raise_for(reply, explain=False)
        return
    what = reply.what
    selfs = _findings(reply, "self-deadlock")
    cycles = _findings(reply, "lock-cycle")
    details = {"stacks": reply.raw.get("stacks", []), "stall_cpu_ratio": reply.raw.get("stall_cpu_ratio")}
    if selfs:
        raise verdicts.Deadlock(self_deadlock_message(selfs[0], what, hint) + " (The run hung here "
                                f"and was stopped after {reply.waited}.)", self_deadlocks=selfs,
                                **details)
    if not cycles:
        raise_for(reply, explain=False)
        return
    ratio = reply.raw.get("stall_cpu_ratio")
    busy = (ratio is not None and ratio >= STALL_DEADLOCK) or bool(reply.raw.get("running_threads"))
    if not busy:
        text = cycle_message(cycles[0], what, reply, hint).replace("Possible deadlock", "Deadlock", 1)
        raise verdicts.Deadlock(text, cycles=cycles, **details)
    try:
        raise_for(reply, explain=False)
    except verdicts.Verdict as verdict:  # busy: a Timeout; the cycle is worth knowing too
        raise type(verdict)(f"{verdict.message} Also: {cycle_message(cycles[0], what, None, hint)}",
                            cycles=cycles, **verdict.details) from None
