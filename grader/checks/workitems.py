"""Work items: which process computed which result, with how much CPU and when -- for judging
parallelism.

A probe hands the student's parallel code `Item(churn)` instead of `churn` (a plain, picklable
callable: processes of any start method can run it), and tasks `(seed, steps)`. `churn` is work
without a shortcut: `steps` rounds of a nonlinear recurrence (x -> x*x + c mod a prime) that
only doing every round computes. Once the agent has armed the module with the request's key
(`arm`, before the student's module is imported), each call of the grader's own work computes
the value, notes in `OUTDIR/items-<pid>.jsonl` its pid, its start and end on the monotonic
clock, the CPU time its thread spent, a digest of its arguments (`digest`) and the value, and
returns the value *sealed* (`Sealed`): with the record's tag, an HMAC of the record under the
key. The key lives only among the constants of that sealing code (`__code__` of the grader's
functions, frames, the garbage collector and ctypes are refused to student code by the agent's
audit hook, and the process is not dumpable -- where the agent's own line key is kept), and the
code takes nothing from a namespace the student could rebind: the only way to a seal is to run
the grader's work on the task in that process. The key is in no process's environment or argv:
children multiprocessing spawns (and its fork server) read it, before anything of the
student's is unpickled or imported, from a pipe only they hold (`grader.agent.launch`, which
also keeps student code from starting any other program unseen). A call of anything else
(`Item(busy)`, a work function whose code was swapped) runs unrecorded and returns its value
unsealed.

The supervisor (`read`) keeps the records whose tag is right and reports every process's CPU
time as the kernel counted it; the judge (`credit`) credits a record only where parallel_map
returned its sealed value at the position of that very task, each record once. Parallelism is
then judged from the CPU spent *in credited items* per process, the most any one process spent
(the span), items of different processes overlapping in time, and each process's CPU *outside*
its credited items: helpers that burn CPU, values computed elsewhere, GIL-bound threads and
processes that take turns do not pass for parallel work.
"""

from __future__ import annotations

import _hashlib
import hashlib
import hmac
import os
import time

from grader.agent.safeio import read_untrusted

OUT_ENV = "PGRADER_STACKS_DIR"  # set by the agent for every process of the run
MAX_FILES = 64
MAX_LINES = 10_000
MAX_BYTES = 2_000_000
PRIME = 2305843009213693951  # 2**61 - 1


def churn(task):
    """The grader's CPU-bound work: `steps` rounds of x -> (x*x + c) mod 2**61-1 from `seed`
    (a pseudo-random map: no closed form, no cycle within reach). Only local names and
    constants: nothing the student's code could rebind makes it cheaper."""
    seed, steps = task
    x = seed % 2305843009213693951
    while steps > 0:
        x = (x * x + 1442695040888963407) % 2305843009213693951
        steps -= 1
    return x


class Sealed:
    """A work item's result with the tag of its record (what `Item` returns once armed)."""

    __slots__ = ("value", "tag")

    def __init__(self, value, tag):
        self.value, self.tag = value, tag

    def __reduce__(self):
        return (Sealed, (self.value, self.tag))

    def __repr__(self):
        return repr(self.value)

    def __eq__(self, other):
        return type(other) is Sealed and (self.value, self.tag) == (other.value, other.tag)

    def __hash__(self):
        return hash(self.tag)


class Item:
    """`fn`, run as a work item of the process that calls it (see the module's docstring)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):  # replaced by the sealing code once armed
        return self.fn(*args, **kwargs)

    def __reduce__(self):
        return (Item, (self.fn,))

    def __repr__(self):
        return repr(self.fn)


def digest(args: tuple, kwargs: dict | None = None) -> str:
    """Which item this is: a digest of its arguments' repr (tasks, numbers, strings)."""
    text = repr((tuple(args), sorted((kwargs or {}).items())))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def unseal(results) -> dict:
    """What a probe sends back of a parallel map over items: the values (a list, or a tuple
    where the map returned one), and for each its tag (None where it was not a Sealed result).
    Anything else goes back as it came."""
    if type(results) not in (list, tuple):
        return {"values": results, "seals": None}
    values, seals = [], []
    for r in results:
        sealed = type(r) is Sealed
        values.append(r.value if sealed else r)
        seals.append(r.tag if sealed and type(r.tag) is str else None)
    return {"values": values if type(results) is list else tuple(values), "seals": seals}


def arm(key: bytes, outdir: str) -> None:
    """Make `Item` seal the grader's work with `key` in this process (the agent, and a child it
    spawned, before the student's code runs; forked children inherit it). Spawned children get
    the key from `grader.agent.launch`, on a pipe only they hold."""
    # The sealing call. Every name it uses comes out of the tuple that replaces "@@SEALED@@"
    # among its constants (the key, and C functions bound before the student's code ran):
    # nothing in a dict, a cell or a default that student code could read or rebind. Its source
    # is a constant of this function, never a name the student's code could rebind (this
    # compiles under the grader's file name).
    source = """
def __call__(self, *args, **kwargs):
    (key, mac, sha, clock, mono, thread_cpu, getpid, open_, write, close, flags, folder, work,
     code, type_, tuple_, int_, repr_, sealed) = "@@SEALED@@"
    fn = self.fn
    if (fn is not work or work.__code__ is not code or work.__defaults__ is not None
            or kwargs or type_(args) is not tuple_ or args.__len__() != 1):
        return fn(*args, **kwargs)
    task = args[0]
    if (type_(task) is not tuple_ or task.__len__() != 2 or type_(task[0]) is not int_
            or type_(task[1]) is not int_):
        return fn(*args, **kwargs)
    t0, c0 = clock(mono), clock(thread_cpu)
    value = work(task)
    t1, c1 = clock(mono), clock(thread_cpu)
    arg = sha(repr_(((task,), [])).encode()).hexdigest()[:16]
    record = "%d %r %r %r %s %d" % (getpid(), t0, t1, c1 - c0, arg, value)
    tag = mac(key, record.encode(), "sha256").hex()
    fd = open_(folder + "/items-%d.jsonl" % getpid(), flags, 0o644)  # the supervisor reads it
    try:
        write(fd, (record + " " + tag + "\\n").encode())
    finally:
        close(fd)
    return sealed(value, tag)
"""
    secret = (
        bytes(key),
        _hashlib.hmac_digest,
        _hashlib.openssl_sha256,
        time.clock_gettime,
        time.CLOCK_MONOTONIC,
        time.CLOCK_THREAD_CPUTIME_ID,
        os.getpid,
        os.open,
        os.write,
        os.close,
        os.O_WRONLY | os.O_APPEND | os.O_CREAT,
        str(outdir),
        churn,
        churn.__code__,
        type,
        tuple,
        int,
        repr,
        Sealed,
    )
    from grader.agent.launch import sealed_code  # not an attribute of this (visible) module

    # the sealed one (compiled under the grader's file name: its code is closed)
    Item.__call__ = sealed_code(source, __file__, "__call__", secret)  # type: ignore[method-assign]


# ---------------------------------------------------------------- supervisor side

MAX_RECORDS = 5000


def _fields(line: str, key: bytes):
    """[pid, start, end, cpu, arg, value, tag] of a record line whose tag is right; None for
    anything else (the student's process wrote it: untrusted)."""
    parts = line.split(" ")
    if len(parts) != 7 or len(line) > 400:
        return None
    record, tag = " ".join(parts[:6]), parts[6]
    right = _hashlib.hmac_digest(key, record.encode("utf-8", "replace"), "sha256").hex()
    if not hmac.compare_digest(tag.encode("ascii", "replace"), right.encode()):
        return None
    try:
        pid, start, end, cpu, value = (
            int(parts[0]),
            float(parts[1]),
            float(parts[2]),
            float(parts[3]),
            int(parts[5]),
        )
    except (ValueError, ArithmeticError):
        return None
    if 0 <= cpu < 1e6 and 0 <= start <= end < 1e12:
        return [pid, start, end, cpu, parts[4][:32], value, tag]
    return None


def _records(outdir: str, key: bytes):
    """(records with a right tag, count of lines without one)."""
    names = sorted(n for n in os.listdir(outdir) if n.startswith("items-"))[:MAX_FILES]
    good, bad = [], 0
    for name in names:
        got = read_untrusted(os.path.join(outdir, name), MAX_BYTES)
        if got is None:
            continue
        for line in got[0].decode("utf-8", "replace").splitlines()[:MAX_LINES]:
            rec = _fields(line, key)
            if rec is None:
                bad += 1
            else:
                good.append(rec)
    return good, bad


def read(outdir: str, own_cpu: dict[int, float], key: bytes | None) -> dict:
    """The run's item records `[pid, start, end, cpu, arg, value, tag]` whose tag is right
    (only of processes the kernel saw), how many were not, and the CPU time every process of
    the run used as the kernel counted it."""
    if not key:
        return {}
    try:
        records, forged = _records(outdir, key)
    except OSError:
        records, forged = [], 0
    records = [r for r in records if r[0] in own_cpu][:MAX_RECORDS]
    if not records and not forged:
        return {}
    return {
        "records": records,
        "forged": forged,
        "kernel_cpu": {str(pid): round(cpu, 4) for pid, cpu in sorted(own_cpu.items())[:256]},
    }


# ---------------------------------------------------------------- judge side


def credit(items: dict, handed_out: list[str], returned: list | None) -> dict:
    """Judge a run's items against what the probe handed out (`handed_out`: the digest of each
    position's task) and what parallel_map returned (`returned`: per position `[value, tag]`,
    tag None where the result was not sealed). A record counts once, where its sealed value
    came back at the position of its own task; with `returned` None (a call whose values do
    not come back, e.g. processes' exit codes) each task's first sealed record counts. Returns {"items", "work", "span", "processes",
    "overlap", "twice": handed-out tasks computed again without being returned, "foreign":
    records of tasks never handed out, "unsealed", "wrong_seal": positions whose seal is not
    a record of that task with that value, "outside": {pid: CPU the kernel counted beyond that
    process's credited items}, ...}."""
    records = items.get("records") or []
    cap = {int(pid): float(cpu) for pid, cpu in (items.get("kernel_cpu") or {}).items()}
    by_tag = {rec[6]: rec for rec in records if len(rec) == 7}
    kept, used, unsealed, wrong = [], set(), 0, 0
    if returned is None:  # the values never come back through the call (processes' exit codes)
        for digest_ in handed_out:  # each task's first sealed record, once
            rec = next((r for r in records if r[6] not in used and r[4] == digest_), None)
            if rec is not None:
                used.add(rec[6])
                kept.append(rec[:4])
    for digest_, (value, tag) in zip(handed_out, returned or []):
        rec = by_tag.get(tag) if type(tag) is str else None
        if tag is None:
            unsealed += 1
        elif rec is None or tag in used or rec[4] != digest_ or rec[5] != value:
            wrong += 1
        else:
            used.add(tag)
            kept.append(rec[:4])
    wanted = set(handed_out)
    twice = sum(1 for rec in records if rec[6] not in used and rec[4] in wanted)
    foreign = sum(1 for rec in records if rec[4] not in wanted)
    per_pid: dict[int, float] = {}
    for pid, _s, _e, cpu in kept:
        per_pid[pid] = per_pid.get(pid, 0.0) + cpu
    for pid in per_pid:
        per_pid[pid] = min(per_pid[pid], cap.get(pid, 0.0) + 0.05)
    events = sorted(
        [(s, 1, pid) for pid, s, _e, _c in kept] + [(e, -1, pid) for pid, _s, e, _c in kept]
    )
    running: dict[int, int] = {}
    active = overlap = 0  # processes with an item running
    for _t, step, pid in events:
        before = running.get(pid, 0)
        running[pid] = before + step
        active += (running[pid] > 0) - (before > 0)
        overlap = max(overlap, active)
    # Once every worker has started: a pool whose last worker came up late (spawned workers
    # on a loaded host start seconds apart) is judged from the moment all of them worked.
    first: dict[int, float] = {}
    for pid, start, _e, _c in kept:
        first[pid] = min(first.get(pid, start), start)
    joined_at = max(first.values(), default=0.0)
    joined: dict[int, float] = {}
    for pid, _s, end, cpu in kept:
        if end > joined_at:
            joined[pid] = joined.get(pid, 0.0) + cpu
    for pid in joined:
        joined[pid] = min(joined[pid], per_pid[pid])
    outside = {
        str(pid): round(max(0.0, cpu - per_pid.get(pid, 0.0)), 4) for pid, cpu in cap.items()
    }
    return {
        "items": len(kept),
        "work": round(sum(per_pid.values()), 4),
        "span": round(max(per_pid.values(), default=0.0), 4),
        "processes": len(per_pid),
        "overlap": overlap,
        "twice": twice,
        "foreign": foreign,
        "forged": int(items.get("forged") or 0),
        "unsealed": unsealed,
        "wrong_seal": wrong,
        "missing": len(handed_out) - len(kept),
        "outside": outside,
        "inside": {str(pid): round(cpu, 4) for pid, cpu in per_pid.items()},
        "joined_items": sum(1 for r in kept if r[2] > joined_at),
        "joined_work": round(sum(joined.values()), 4),
        "joined_span": round(max(joined.values(), default=0.0), 4),
    }
