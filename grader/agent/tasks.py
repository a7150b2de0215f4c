"""The threads of the student's processes, as the kernel lists them (/proc/PID/task)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator


def threads(pids: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(pid, tid) of every thread of `pids` alive when its process is listed (a process that is
    gone meanwhile has none)."""
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            yield pid, int(tid)


def read(pid: int, tid: int, name: str, limit: int = 4096) -> bytes | None:
    """The start of /proc/PID/task/TID/NAME, None if the thread is gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/{name}", "rb") as f:
            return f.read(limit)
    except OSError:
        return None
