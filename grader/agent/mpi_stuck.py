"""Proof that the ranks of an MPI run are deadlocked, from their wait boards.

Two proofs, one per mode (`grader.checks.mpi_setup.WaitBoard` is the board of both):

* strict mode (`MpiStuckWatch`): MPICH busy-polls inside a blocking call, so the kernel's view
  (`grader.agent.stuck`) never sees ranks wait for good. In strict mode every blocking
  point-to-point call and every collective's agreement step waits in
  `grader.checks.mpi_setup._wait`, which polls the nonblocking form of the call (each poll
  drives MPI's progress engine) and records on its rank's board the call's number and how many
  polls it made. The run is *stuck* when every rank is either inside such a call or has
  returned its result, no rank has a thread beyond those it started with, and across two looks
  at least `HOLD` seconds apart every waiting rank is still in the same call and has polled at
  least `polls_needed(ranks)` times since the first look -- while every other rank was already
  where it is now. Each poll progresses MPI, so two calls that could match would have matched:
  none can. A rank outside such a call (computing, in a call strict mode does not wrap,
  starting up) means no proof, and the hang gets the timeout path as before.
* standard mode (`WaitFor`): the ranks' blocking calls are MPI's own (`grader.checks.mpi_calls`
  shows each on the board: kind, peers, tags, a collective's ranks); the run is stuck when no
  waiting call can be matched by any other rank's current call (a wait-for argument that needs
  no eager limit), each waiting thread having run between the two looks.

The boards are written by the student's processes: a forged one can only end the forger's own
run early as a deadlock, never make a run pass.
"""

from __future__ import annotations

import glob
import os
import time
from typing import NamedTuple

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


class Board(NamedTuple):
    """One rank's record (`WaitBoard`)."""

    state: int
    extra: int
    call: int
    polls: int
    rank: int = -1
    tid: int = 0
    op: int = WaitBoard.NONE
    dest: int = WaitBoard.NOBODY
    sendtag: int = 0
    source: int = WaitBoard.NOBODY
    recvtag: int = 0
    group: int = 0


def read_boards(outdir: str) -> dict[str, Board] | None:
    """{file: Board} of every rank's board; None if one is unreadable, malformed or was read
    while it was being rewritten."""
    paths = sorted(glob.glob(os.path.join(outdir, "mpi-wait-*.bin")))
    if len(paths) > MAX_RANKS:
        return None
    boards = {}
    for path in paths:
        got = read_untrusted(path, RECORD.size)
        if got is None or len(got[0]) != RECORD.size:
            return None
        magic, *fields, call_again = RECORD.unpack(got[0])
        board = Board(*fields)
        if magic != MAGIC or board.state not in (OUT, IN, DONE) or call_again != board.call:
            return None
        boards[path] = board
    return boards


def proof(boards: dict[str, Board], held: float) -> dict:
    """The reply's `deadlock_proof` for these boards, held still for `held` seconds."""
    waiting = sum(1 for b in boards.values() if b.state == IN)
    return {
        "kind": "mpi",
        "ranks": len(boards),
        "waiting": waiting,
        "returned": len(boards) - waiting,
        "held": round(held, 3),
    }


class MpiStuckWatch:
    """Watches one strict MPI request; `check()` returns the proof once the ranks are stuck."""

    def __init__(self, outdir: str, ranks: int, hold: float = HOLD, polls: int | None = None):
        self.outdir, self.ranks, self.hold = outdir, ranks, hold
        self.polls = polls_needed(ranks) if polls is None else polls
        self.first: tuple[float, dict[str, Board]] | None = None

    def _all_waiting(self, boards) -> bool:
        return (
            boards is not None
            and len(boards) == self.ranks
            and all(b.state in (IN, DONE) and b.extra == 0 for b in boards.values())
            and any(b.state == IN for b in boards.values())
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
        for path, (state, _, call, *_) in boards.items():
            state0, _, call0, *_ = before[path]
            if state != state0 or (state == IN and call != call0):
                self.first = (now, boards)  # something moved: start again from here
                return None
        if now - t0 < self.hold or any(
            b.polls - before[path].polls < self.polls for path, b in boards.items() if b.state == IN
        ):
            return None  # not long enough yet
        return proof(boards, now - t0)


# ---------------------------------------------------------------- standard mode: wait-for

MIN_CPU = 0.03  # seconds each waiting rank's thread must run between the two looks


def _sends(b: Board) -> bool:
    return b.op in (WaitBoard.SEND, WaitBoard.SENDRECV)


def _receives(b: Board) -> bool:
    return b.op in (WaitBoard.RECV, WaitBoard.SENDRECV)


def _fits(want: int, got: int) -> bool:
    """A peer or tag `want` (maybe a wildcard, maybe not known) that `got` could be."""
    return want in (got, WaitBoard.ANY, WaitBoard.UNKNOWN) or got == WaitBoard.UNKNOWN


_COLLECTIVE_OR_NOT_KNOWN = (WaitBoard.COLLECTIVE, WaitBoard.ALL_TO_ALL, WaitBoard.NONE)


def could_progress(b: Board, others: dict[int, Board]) -> bool:
    """Whether the call rank `b.rank` waits in could be matched by the call another rank (or
    itself: a Sendrecv) waits in now (`others`: every rank's board by rank). Generous: a part
    not known, a wildcard, a collective on a communicator shared with any rank in a collective
    (whichever) all count as a possible match; only what surely cannot match is ruled out."""
    if b.op in (WaitBoard.COLLECTIVE, WaitBoard.ALL_TO_ALL):
        members = [others[r] for r in others if r != b.rank and (b.group >> r) & 1]
        if not members or b.group == WaitBoard.EVERYONE:
            return True  # a communicator of one, or of ranks not known
        joined = [o.state == IN and o.op in _COLLECTIVE_OR_NOT_KNOWN for o in members]
        # a barrier, allreduce... ends on no rank before every rank has joined; a bcast,
        # reduce... may end on a rank once its parent in MPI's tree has
        return all(joined) if b.op == WaitBoard.ALL_TO_ALL else any(joined)
    if not (_sends(b) or _receives(b)):
        return True  # a call we cannot read: it might match anything
    for o in others.values():
        if o.state != IN:
            continue  # returned: it makes no more calls
        if o.op == WaitBoard.NONE:
            return True
        if _sends(b) and _receives(o) and _fits(o.rank, b.dest) and _fits(o.source, b.rank):
            if _fits(o.recvtag, b.sendtag):
                return True
        if _receives(b) and _sends(o) and _fits(b.source, o.rank) and _fits(o.dest, b.rank):
            if _fits(b.recvtag, o.sendtag):
                return True
    return False


def _thread_cpu(pid: int, tid: int) -> float | None:
    """CPU seconds thread `tid` of process `pid` has used (from the kernel), None if gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat", encoding="latin-1") as f:
            data = f.read()
        fields = data[data.rfind(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class WaitFor:
    """Watches one standard-mode MPI request (`grader.checks.mpi_calls`); `check()` returns the
    proof once no rank's blocking call can ever be matched.

    Proven when, across two looks at least `hold` seconds apart: every rank has a board and is
    either in a watched blocking call or has returned, none has an extra thread or a request
    of its own (tainted), every waiting rank is still in the same call and its calling thread
    ran at least `min_cpu` seconds in between (MPICH polls its progress engine all that time,
    so a message already on its way, sent eagerly before, would have matched), and no waiting
    call could be matched by another rank's current call (`could_progress`). No call can then
    end, so none can post the call another waits for: the ranks wait forever. Message sizes
    and the eager limit do not enter: a send that could still complete on its own (a small
    message) completes while it is watched."""

    def __init__(self, outdir: str, ranks: int, hold: float = HOLD, min_cpu: float = MIN_CPU):
        self.outdir, self.ranks, self.hold, self.min_cpu = outdir, ranks, hold, min_cpu
        self.first: tuple[float, dict[str, Board], dict[str, float]] | None = None

    def _cpu(self, boards: dict[str, Board]) -> dict[str, float] | None:
        out = {}
        for path, b in boards.items():
            if b.state != IN:
                continue
            name = os.path.basename(path)[len("mpi-wait-") : -len(".bin")]
            cpu = _thread_cpu(int(name), b.tid) if name.isdigit() and b.tid > 0 else None
            if cpu is None:
                return None
            out[path] = cpu
        return out

    def _waiting(self, boards: dict[str, Board] | None) -> bool:
        return (
            boards is not None
            and len(boards) == self.ranks
            and sorted(b.rank for b in boards.values()) == list(range(self.ranks))
            and all(b.state in (IN, DONE) and b.extra == 0 for b in boards.values())
            and all(b.op != WaitBoard.NONE for b in boards.values() if b.state == IN)
            and any(b.state == IN for b in boards.values())
        )

    def check(self) -> dict | None:
        boards = read_boards(self.outdir)
        now = time.monotonic()
        cpu = self._cpu(boards) if boards is not None and self._waiting(boards) else None
        if boards is None or cpu is None:
            self.first = None
            return None
        if self.first is None or boards != self.first[1]:
            self.first = (now, boards, cpu)  # the first look, or something moved: from here
            return None
        t0, _, cpu0 = self.first
        if now - t0 < self.hold or any(cpu[p] - cpu0[p] < self.min_cpu for p in cpu):
            return None  # not long enough yet
        by_rank = {b.rank: b for b in boards.values()}
        if any(could_progress(b, by_rank) for b in by_rank.values() if b.state == IN):
            return None
        # MPICH polls inside these calls: the ranks use CPU while they wait
        return {**proof(boards, now - t0), "busy": True}
