"""Work items: which process ran which piece of the work, and when -- for judging parallelism.

A probe hands the student's parallel code `Item(fn)` instead of `fn` (a plain, picklable
callable: processes of any start method can run it). Each call notes, in the process that runs
it, its pid, its start and end on the monotonic clock and the CPU time its thread spent, in
`OUTDIR/items-<pid>.jsonl` (written by this module, which student code may not touch: the
output folder is closed to it by the agent's audit hook).

The supervisor (`read`) then judges parallelism from the items themselves: CPU spent *in items*
per process (never more than the kernel says that process used), the most any one process spent
(the span of the work), and how many items of different processes overlapped in time. Helpers
that burn CPU without running items count for nothing; GIL-bound threads put every item in one
process; work done twice still shows as items (the probe counts them).
"""

from __future__ import annotations

import json
import os
import time

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
            _note(t0, _clock(_MONO), _clock(_THREAD_CPU) - c0)

    def __reduce__(self):
        return (Item, (self.fn,))

    def __repr__(self):
        return repr(self.fn)


def _note(start: float, end: float, cpu: float) -> None:
    outdir = os.environ.get(OUT_ENV)
    if not outdir:
        return
    line = json.dumps({"pid": os.getpid(), "start": start, "end": end, "cpu": cpu})
    try:
        with open(os.path.join(outdir, f"items-{os.getpid()}.jsonl"), "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


# ---------------------------------------------------------------- supervisor side

def _records(outdir: str):
    from grader.agent.safeio import read_untrusted

    names = sorted(n for n in os.listdir(outdir) if n.startswith("items-"))[:MAX_FILES]
    for name in names:
        got = read_untrusted(os.path.join(outdir, name), MAX_BYTES)
        if got is None:
            continue
        for line in got[0].decode("utf-8", "replace").splitlines()[:MAX_LINES]:
            try:
                rec = json.loads(line)
                pid, start, end, cpu = (rec["pid"], float(rec["start"]), float(rec["end"]),
                                        float(rec["cpu"]))
            except (ValueError, KeyError, TypeError, RecursionError):
                continue
            if type(pid) is int and 0 <= cpu < 1e6 and 0 <= start <= end < 1e12:
                yield pid, start, end, cpu


def read(outdir: str, own_cpu: dict[int, float]) -> dict:
    """The items of a run: how many, CPU in items (per process capped by the kernel's count for
    that process), the most one process spent in items, the processes that ran items, and the
    most items of different processes that were running at the same moment."""
    try:
        records = [r for r in _records(outdir) if r[0] in own_cpu]
    except OSError:
        records = []
    if not records:
        return {}
    per_pid: dict[int, float] = {}
    for pid, _start, _end, cpu in records:
        per_pid[pid] = per_pid.get(pid, 0.0) + cpu
    for pid in per_pid:
        per_pid[pid] = min(per_pid[pid], own_cpu.get(pid, 0.0) + 0.05)
    events = sorted([(s, 1, pid) for pid, s, _e, _c in records]
                    + [(e, -1, pid) for pid, _s, e, _c in records])
    running: dict[int, int] = {}
    active = overlap = 0  # processes with an item running
    for _t, step, pid in events:
        before = running.get(pid, 0)
        running[pid] = before + step
        active += (running[pid] > 0) - (before > 0)
        overlap = max(overlap, active)
    return {"items": len(records), "work": round(sum(per_pid.values()), 4),
            "span": round(max(per_pid.values()), 4), "processes": len(per_pid),
            "overlap": overlap}
