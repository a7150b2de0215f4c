"""Judge-side helpers for MPI exercises: run a probe on N ranks, explain a hang rank by rank,
and compare per-rank results.

    values = run_ranks(student, _swap, 10, ranks=4, strict=True, timeout=5)
    expect_per_rank(values, 4, expected=lambda r: ..., what="4 ranks", hint=lambda r, got: "...")

A hang becomes a `Deadlock` that names the ranks that never returned, the line of the
student's code each was stuck at, and why: both ranks sending first, both receiving first, or
another unmatched call. A hang that follows a rank's exception is that rank's crash
(`StudentError`, the exception and its line first), never a deadlock. MPICH busy-polls inside blocking calls, so a rank stuck in MPI may
still use CPU: a hang is a deadlock when every rank that did not return is blocked in an MPI
call of the student's code (or used no CPU).
"""

from __future__ import annotations

import re

from grader.judge.expect_values import expect_equal
from grader.judge.verdicts import Deadlock, Failed, StudentError
from grader.judge.verdicts.reply import raise_for
from grader.judge.verdicts.wording import student_location
from grader.protocol import STALL_DEADLOCK, Reply, Status

SEND_FIRST = (
    "Both ranks of a pair call send first: MPI may wait for the matching receive before "
    "a send returns (always for large messages), so both wait forever; use Sendrecv or "
    "let the even rank send first."
)
RECV_FIRST = (
    "Both ranks of a pair call receive first: each waits for a message its partner "
    "never sends, because the partner is waiting too; use Sendrecv, or let one rank of "
    "each pair send first while the other receives first."
)
SELF_SEND = (
    "With 1 rank, every neighbour of rank 0 is rank 0 itself: its send waits for a receive "
    "that only it could post, after the send returns; with one rank there is nobody to talk to, "
    "so make no call (or use Sendrecv, which sends and receives at once)."
)
OTHER_HANG = (
    "The ranks wait for each other forever: every send needs a matching receive posted "
    "by its partner (same pair, same tag), and every rank must take part in each "
    "collective."
)
STRICT_NOTE = (
    " (This test makes every send synchronous, as MPI allows for any send, so the "
    "mistake shows even for small messages.)"
)

_MPI_CALL = re.compile(
    r"\b(i?[sb]?send|i?recv|sendrecv\w*|wait\w*|i?m?probe|barrier|test\w*|"
    r"bcast|reduce|allreduce|gather\w*|scatter\w*|alltoall\w*)\s*\(",
    re.I,
)
_SEND = re.compile(r"\bi?[sb]?send\s*\(", re.I)  # a plain send, not Sendrecv
_RECV = re.compile(r"\bi?recv\s*\(", re.I)


def plural_ranks(ranks: list[int]) -> str:
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    return "ranks " + ", ".join(map(str, ranks[:-1])) + f" and {ranks[-1]}"


def stuck_frames(stacks: list) -> list[dict]:
    """For each hung process, the innermost frame of the student's code in its main thread."""
    frames = []
    for proc in stacks:
        for thread in proc.get("threads", []):
            mine = [f for f in thread.get("frames", []) if f.get("student")]
            if mine and any(f.get("name") == "<module>" for f in thread["frames"]):
                frames.append(mine[-1])
    return frames


def mpi_hang_verdict(reply: Reply, ranks: int, strict: bool, other: str = OTHER_HANG) -> None:
    """Raise the verdict of a timed-out MPI run: a `Deadlock` explained rank by rank, or the
    platform's `Timeout` when the ranks were busy outside MPI calls (an endless loop)."""
    stuck = stuck_frames(reply.stacks)
    codes = [f.get("code", "") for f in stuck]
    ratio = reply.stall_cpu_ratio
    results = reply.ranks or []
    done = sorted(r.rank for r in results if r.rank is not None)
    hung = [r for r in range(ranks) if r not in done] or list(range(ranks))
    failed = [r for r in results if r.status == Status.EXCEPTION]
    if failed:  # the root cause is a crash, not a deadlock: a rank raised, its partners waited
        exc = failed[0].exception or {}
        partners = [r for r in hung if r != failed[0].rank]
        raise StudentError(
            f"{reply.what} crashed: rank {failed[0].rank} raised "
            f"{exc.get('type', 'an error')}: {str(exc.get('message', ''))[:300]}"
            f"{student_location(exc.get('frames', []))}. "
            + (
                f"{plural_ranks(partners).capitalize()} then waited for its messages until stopped "
                f"after {reply.wall:.0f} s (a consequence, not a deadlock of their own)."
                if partners
                else ""
            ),
            exception=exc,
            stacks=reply.stacks,
            failed_rank=failed[0].rank,
            hung_ranks=partners,
        )
    in_mpi = len(codes) >= len(hung) and all(_MPI_CALL.search(c) for c in codes)
    # Outside MPI calls, a deadlock needs ranks that used no CPU *and* no thread that could run:
    # on a crowded host a computing rank gets little CPU (a low ratio) but stays runnable.
    if not in_mpi and (ratio is None or ratio >= STALL_DEADLOCK or reply.running_threads):
        raise_for(reply)
    if ranks == 1 and any(_SEND.search(c) for c in codes):
        why = SELF_SEND + (STRICT_NOTE if strict else "")
    elif any(_SEND.search(c) for c in codes):
        why = SEND_FIRST + (STRICT_NOTE if strict else "")
    elif codes and all(_RECV.search(c) for c in codes):
        why = RECV_FIRST
    else:
        why = other
    where = ", ".join(dict.fromkeys(f"{f['file']} line {f['line']} (`{f['code']}`)" for f in stuck))
    waiting = (
        f"{plural_ranks(hung)} {'was' if len(hung) == 1 else 'were'} still waiting after "
        f"{reply.waited}"
    )
    message = (
        f"{reply.what} never finished: {waiting}"
        + (f" ({plural_ranks(done)} returned)" if done else "")
        + (f", stuck at {where}" if where else "")
        + f". {why}"
    )
    raise Deadlock(
        message,
        stacks=reply.stacks,
        stall_cpu_ratio=ratio,
        running_threads=reply.running_threads,
        hung_ranks=hung,
        synchronous_sends=strict,
    )


def run_ranks(
    student,
    probe,
    *args,
    ranks: int,
    strict: bool,
    timeout: float,
    what: str,
    other: str = OTHER_HANG,
) -> list:
    """Per-rank values of `probe` under `mpiexec -n ranks`, or the verdict explaining why not."""
    reply = student.reply(
        probe, *args, ranks=ranks, mpi={"strict": strict}, timeout=timeout, what=what
    )
    if reply.status == Status.TIMEOUT:
        mpi_hang_verdict(reply, ranks, strict, other)
    raise_for(reply)
    return reply.value


def expect_array(got, expected, what: str, hint: str = "") -> None:
    """`got` must be a numpy array equal to `expected`, dtype included."""
    import numpy as np

    if not isinstance(got, np.ndarray):
        raise Failed(
            f"{what} returned {got!r:.200}, expected a numpy array. {hint}".rstrip(),
            expected=repr(expected),
            got=repr(got)[:300],
        )
    if got.dtype != expected.dtype:
        raise Failed(
            f"{what} returned an array of dtype {got.dtype}, expected {expected.dtype}.",
            expected=str(expected.dtype),
            got=str(got.dtype),
        )
    expect_equal(got, expected, what, hint)


def expect_per_rank(values, ranks: int, expected, what: str, hint=lambda rank, got: "") -> None:
    """`values[r]` must equal `expected(r)` for every rank r; `hint(r, got)` explains a miss."""
    if not isinstance(values, list) or len(values) != ranks:
        raise Failed(f"{what}: expected one result per rank, got {values!r:.200}.")
    for rank, got in enumerate(values):
        expect_array(got, expected(rank), f"{what}: rank {rank}", hint(rank, got))
