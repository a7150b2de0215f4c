"""Work items: which process ran which piece of the work, and when -- for judging parallelism.

A probe hands the student's parallel code `Item(fn)` instead of `fn` (a plain, picklable
callable: processes of any start method can run it). Each call notes, in the process that runs
it, its pid, its start and end on the monotonic clock, the CPU time its thread spent and a
digest of its arguments (`digest`), in `OUTDIR/items-<pid>.jsonl` (written by this module,
which student code may not touch: the output folder is closed to it by the agent's audit hook).

The supervisor (`read`) passes the records on, each process's CPU time capped by what the kernel
counted for it; the judge (`credit`) keeps one record per item the probe handed out (known by
its arguments' digest): an item run twice is work done twice, an item the probe never handed
out (a helper's own `Item(busy)`) counts for nothing. Parallelism is then judged from CPU spent
*in items* per process, the most any one process spent (the span), and how many items of
different processes overlapped in time: helpers that burn CPU, GIL-bound threads and processes
that take turns do not pass for parallel work.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from grader.agent.safeio import read_untrusted

OUT_ENV = "PGRADER_STACKS_DIR"  # set by the agent for every process of the run
_clock, _MONO = time.clock_gettime, time.CLOCK_MONOTONIC
_THREAD_CPU = time.CLOCK_THREAD_CPUTIME_ID
MAX_FILES = 64
MAX_LINES = 10_000
MAX_BYTES = 2_000_000


class Item:
    """`fn`, noting each call as a work item of the process that runs it."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        t0, c0 = _clock(_MONO), _clock(_THREAD_CPU)
        try:
            return self.fn(*args, **kwargs)
        finally:
            _note(t0, _clock(_MONO), _clock(_THREAD_CPU) - c0, digest(args, kwargs))

    def __reduce__(self):
        return (Item, (self.fn,))

    def __repr__(self):
        return repr(self.fn)


def digest(args: tuple, kwargs: dict | None = None) -> str:
    """Which item this is: a digest of its arguments' repr (ranges, numbers, strings)."""
    text = repr((tuple(args), sorted((kwargs or {}).items())))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def _note(start: float, end: float, cpu: float, arg: str) -> None:
    outdir = os.environ.get(OUT_ENV)
    if not outdir:
        return
    line = json.dumps({"pid": os.getpid(), "start": start, "end": end, "cpu": cpu, "arg": arg})
    try:
        with open(os.path.join(outdir, f"items-{os.getpid()}.jsonl"), "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


# ---------------------------------------------------------------- supervisor side

MAX_RECORDS = 5000


def _records(outdir: str):
    names = sorted(n for n in os.listdir(outdir) if n.startswith("items-"))[:MAX_FILES]
    for name in names:
        got = read_untrusted(os.path.join(outdir, name), MAX_BYTES)
        if got is None:
            continue
        for line in got[0].decode("utf-8", "replace").splitlines()[:MAX_LINES]:
            try:
                rec = json.loads(line)
                pid, start, end, cpu, arg = (
                    rec["pid"],
                    float(rec["start"]),
                    float(rec["end"]),
                    float(rec["cpu"]),
                    rec["arg"],
                )
            except (ValueError, KeyError, TypeError, RecursionError, ArithmeticError):
                continue  # ArithmeticError: float() of an int too big for a float (OverflowError)
            if (
                type(pid) is int
                and type(arg) is str
                and 0 <= cpu < 1e6
                and 0 <= start <= end < 1e12
            ):
                yield [pid, start, end, cpu, arg[:32]]


def read(outdir: str, own_cpu: dict[int, float]) -> dict:
    """The run's item records `[pid, start, end, cpu, arg]` (only of processes the kernel saw),
    and each such process's CPU time as the kernel counted it."""
    try:
        records = [r for r in _records(outdir) if r[0] in own_cpu][:MAX_RECORDS]
    except OSError:
        records = []
    if not records:
        return {}
    return {
        "records": records,
        "kernel_cpu": {str(pid): round(own_cpu[pid], 4) for pid in {r[0] for r in records}},
    }


# ---------------------------------------------------------------- judge side


def credit(items: dict, handed_out: list[str]) -> dict:
    """Judge a run's items against the digests of the items the probe handed out (a list: the
    same item may be handed out several times). Returns {"items", "work", "span",
    "processes", "overlap", "twice": items run more often than handed out, "foreign": records
    of items never handed out}."""
    records = items.get("records") or []
    cap = {int(pid): float(cpu) for pid, cpu in (items.get("kernel_cpu") or {}).items()}
    left: dict = {}
    for d in handed_out:
        left[d] = left.get(d, 0) + 1
    kept, twice, foreign = [], 0, 0
    for rec in sorted(records, key=lambda r: r[1]):
        pid, start, end, cpu, arg = rec
        if arg not in left:
            foreign += 1
        elif left[arg] == 0:
            twice += 1
        else:
            left[arg] -= 1
            kept.append(rec)
    per_pid: dict[int, float] = {}
    for pid, _s, _e, cpu, _a in kept:
        per_pid[pid] = per_pid.get(pid, 0.0) + cpu
    for pid in per_pid:
        per_pid[pid] = min(per_pid[pid], cap.get(pid, 0.0) + 0.05)
    events = sorted(
        [(s, 1, pid) for pid, s, _e, _c, _a in kept] + [(e, -1, pid) for pid, _s, e, _c, _a in kept]
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
    first: dict = {}
    for pid, start, _e, _c, _a in kept:
        first[pid] = min(first.get(pid, start), start)
    joined_at = max(first.values(), default=0.0)
    joined: dict[int, float] = {}
    for pid, _s, end, cpu, _a in kept:
        if end > joined_at:
            joined[pid] = joined.get(pid, 0.0) + cpu
    for pid in joined:
        joined[pid] = min(joined[pid], per_pid[pid])
    return {
        "items": len(kept),
        "work": round(sum(per_pid.values()), 4),
        "span": round(max(per_pid.values(), default=0.0), 4),
        "processes": len(per_pid),
        "overlap": overlap,
        "twice": twice,
        "foreign": foreign,
        "missing": sum(left.values()),
        "joined_items": sum(1 for r in kept if r[2] > joined_at),
        "joined_work": round(sum(joined.values()), 4),
        "joined_span": round(max(joined.values(), default=0.0), 4),
    }
