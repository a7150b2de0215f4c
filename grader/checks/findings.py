"""Findings a check reports the moment it sees them, so they survive a hang.

A check that sees a bug before the run is over (a lock acquired twice by the
same thread, a lock-order cycle) calls `report(kind, **data)`: one JSON line is
appended to `OUTDIR/findings-<pid>.jsonl` right away. If the run then hangs and
is killed, the supervisor still finds it and puts it in the reply's `findings`,
next to the stacks.
"""

from __future__ import annotations

import json
import os

_outdir: str | None = None
MAX_PER_PROCESS = 50
_count = 0


def set_outdir(outdir: str) -> None:
    global _outdir
    _outdir = outdir


def report(kind: str, **data) -> None:
    global _count
    if _outdir is None or _count >= MAX_PER_PROCESS:
        return
    _count += 1
    line = json.dumps({"kind": kind, **data}, default=repr)
    with open(os.path.join(_outdir, f"findings-{os.getpid()}.jsonl"), "a") as f:
        f.write(line + "\n")


def merged(findings, key, limit: int) -> list[dict]:
    """One finding per `key(finding)`, with a `count` of how often it was seen; at most `limit`."""
    out: dict = {}
    for finding in findings:
        k = key(finding)
        if k in out:
            out[k]["count"] += 1
        elif len(out) < limit:
            out[k] = {**finding, "count": 1}
    return list(out.values())
