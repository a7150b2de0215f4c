"""Proof that the ranks of a strict-mode MPI run are deadlocked, from their wait boards.

MPICH busy-polls inside a blocking call, so the kernel's view (`grader.agent.stuck`) never sees
ranks wait for good. In strict mode every blocking point-to-point call and every collective's
agreement step waits in `grader.checks.mpi_setup._wait`, which polls the nonblocking form of the
call (each poll drives MPI's progress engine) and records on its rank's `WaitBoard` the call's
number and how many polls it made.

The run is *stuck* when every rank is either inside such a call or has returned its result,
no rank has a thread beyond those it started with, and across two looks at least `HOLD`
seconds apart every waiting rank is still in the same call and has polled at least
`polls_needed(ranks)` times since the first look -- while every other rank was already where it is now. Each poll
progresses MPI, so two calls that could match would have matched: none can. A rank outside
such a call (computing, in a call strict mode does not wrap, starting up) means no proof, and
the hang gets the timeout path as before.

The boards are written by the student's processes: a forged one can only end the forger's own
run early as a deadlock, never make a run pass.
"""

from __future__ import annotations

import glob
import os
import time

from grader.agent.safeio import read_untrusted
from grader.checks.mpi_setup import WaitBoard

RECORD, MAGIC = WaitBoard.RECORD, WaitBoard.MAGIC  # written by each rank, read here
OUT, IN, DONE = WaitBoard.OUT, WaitBoard.IN, WaitBoard.DONE
HOLD = 0.2  # seconds between the two looks, at least


def polls_needed(ranks: int) -> int:
    """Polls each waiting rank must make between the two looks: a collective's agreement step
    (an Iallgather) needs about log2(ranks) rounds of progress, a point-to-point match one; twice
    that, and two more."""
    return 2 + 2 * max(1, (max(2, ranks) - 1).bit_length())


MAX_RANKS = 64


def read_boards(outdir: str) -> dict[str, tuple[int, int, int, int]] | None:
    """{file: (state, extra threads, call, polls)} of every rank's board; None if one is
    unreadable or malformed."""
    paths = sorted(glob.glob(os.path.join(outdir, "mpi-wait-*.bin")))
    if len(paths) > MAX_RANKS:
        return None
    boards = {}
    for path in paths:
        got = read_untrusted(path, RECORD.size)
        if got is None or len(got[0]) != RECORD.size:
            return None
        magic, state, extra, call, polls = RECORD.unpack(got[0])
        if magic != MAGIC or state not in (OUT, IN, DONE):
            return None
        boards[path] = (state, extra, call, polls)
    return boards


class MpiStuckWatch:
    """Watches one strict MPI request; `check()` returns the proof once the ranks are stuck."""

    def __init__(self, outdir: str, ranks: int, hold: float = HOLD, polls: int | None = None):
        self.outdir, self.ranks, self.hold = outdir, ranks, hold
        self.polls = polls_needed(ranks) if polls is None else polls
        self.first: tuple[float, dict[str, tuple[int, int, int, int]]] | None = None

    def _all_waiting(self, boards) -> bool:
        return (
            boards is not None
            and len(boards) == self.ranks
            and all(state in (IN, DONE) and extra == 0 for state, extra, _, _ in boards.values())
            and any(state == IN for state, _, _, _ in boards.values())
        )

    def check(self) -> dict | None:
        boards = read_boards(self.outdir)
        now = time.monotonic()
        if boards is None or not self._all_waiting(boards):
            self.first = None
            return None
        if self.first is None:
            self.first = (now, boards)
            return None
        t0, before = self.first
        if boards.keys() != before.keys():
            self.first = (now, boards)
            return None
        for path, (state, _, call, _polls) in boards.items():
            state0, _, call0, _ = before[path]
            if state != state0 or (state == IN and call != call0):
                self.first = (now, boards)  # something moved: start again from here
                return None
        if now - t0 < self.hold or any(
            polls - before[path][3] < self.polls
            for path, (state, _, _, polls) in boards.items()
            if state == IN
        ):
            return None  # not long enough yet
        waiting = sum(1 for state, _, _, _ in boards.values() if state == IN)
        return {
            "kind": "mpi",
            "ranks": self.ranks,
            "waiting": waiting,
            "returned": self.ranks - waiting,
            "held": round(now - t0, 3),
        }
