"""Public tests for mpi_pairwise_exchange: run them with `grader check mpi_pairwise_exchange`."""

import re

import numpy as np

from grader.judge.proxy import STALL_DEADLOCK
from grader.testing import Deadlock, Failed, StudentError, expect_equal, raise_for

TIMEOUT = 5  # seconds: a correct exchange takes well under one, a deadlock never ends

SEND_FIRST = ("Both ranks of a pair call send first: MPI may wait for the matching receive before "
              "a send returns (always for large messages), so both wait forever; use Sendrecv or "
              "let the even rank send first.")
RECV_FIRST = ("Both ranks of a pair call receive first: each waits for a message its partner "
              "never sends, because the partner is waiting too; use Sendrecv, or let the even "
              "rank send first while the odd rank receives first.")
OTHER_HANG = ("The ranks wait for each other forever: every send needs a matching receive posted "
              "by the partner (same pair, same tag). Rank 2i pairs with rank 2i+1; Sendrecv sends "
              "and receives at once and cannot deadlock with its partner's Sendrecv.")
STRICT_NOTE = (" (This test makes every send synchronous, as MPI allows for any send, so the "
               "mistake shows even for small messages.)")

_MPI_CALL = re.compile(r"\b(i?[sb]?send|i?recv|sendrecv\w*|wait\w*|i?m?probe|barrier|test\w*)\s*\(",
                       re.I)
_SEND = re.compile(r"\bi?[sb]?send\s*\(", re.I)  # a plain send, not Sendrecv
_RECV = re.compile(r"\bi?recv\s*\(", re.I)


# ---------------------------------------------------------------- probes (run in the sandbox)

def _swap(mod, n, dtype, shape, offset):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    arr = (np.arange(n) + offset * comm.rank).astype(dtype).reshape(shape)
    return mod.exchange(comm, arr)


# ---------------------------------------------------------------- running and judging

def _exchange(student, probe, *args, ranks, strict):
    """Per-rank values of `probe` under `mpiexec -n ranks`; a hang becomes a `Deadlock` that says
    which ranks hung, where, and why."""
    what = f"exchange(comm, arr) on {ranks} rank{'s' if ranks > 1 else ''}"
    reply = student.reply(probe, *args, ranks=ranks, mpi={"strict": strict}, timeout=TIMEOUT,
                          what=what)
    if reply.status == "timeout":
        _raise_hang(reply, ranks, strict)
    try:
        raise_for(reply)
    except StudentError as exc:
        bad = [r.get("rank") for r in reply.raw.get("ranks", []) if r.get("status") != "ok"]
        not_done = (exc.details.get("exception") or {}).get("type") == "NotImplementedError"
        if ranks % 2 and bad == [ranks - 1] and not not_done:
            raise StudentError(exc.message + f" With {ranks} rank{'s' if ranks > 1 else ''}, "
                               f"rank {ranks - 1} has no partner: it must not send or receive, "
                               "only return its own array.", **exc.details) from None
        raise
    return reply.value


def _stuck_frames(stacks: list) -> list[dict]:
    """For each hung process, the innermost frame of the student's code in its main thread (the
    one that called exchange), when it is in the student's code at all."""
    frames = []
    for proc in stacks:
        for thread in proc.get("threads", []):
            mine = [f for f in thread.get("frames", []) if f.get("student")]
            if mine and any(f.get("name") == "<module>" for f in thread["frames"]):
                frames.append(mine[-1])
    return frames


def _ranks(ranks: list[int]) -> str:
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    return "ranks " + ", ".join(map(str, ranks[:-1])) + f" and {ranks[-1]}"


def _raise_hang(reply, ranks: int, strict: bool) -> None:
    raw = reply.raw
    stuck = _stuck_frames(raw.get("stacks", []))
    codes = [f.get("code", "") for f in stuck]
    ratio = raw.get("stall_cpu_ratio")
    done = sorted(r["rank"] for r in raw.get("ranks", []) if isinstance(r.get("rank"), int))
    hung = [r for r in range(ranks) if r not in done] or list(range(ranks))
    # MPICH busy-polls inside blocking calls, so a rank stuck in MPI may still use CPU: the hang
    # is a deadlock when every rank that did not return is blocked in an MPI call of its code.
    in_mpi = len(codes) >= len(hung) and all(_MPI_CALL.search(c) for c in codes)
    if not in_mpi and (ratio is None or ratio >= STALL_DEADLOCK):
        raise_for(reply)  # busy outside MPI calls (an endless loop): the platform's Timeout
    if any(_SEND.search(c) for c in codes):
        why = SEND_FIRST + (STRICT_NOTE if strict else "")
    elif codes and all(_RECV.search(c) for c in codes):
        why = RECV_FIRST
    else:
        why = OTHER_HANG
    where = ", ".join(dict.fromkeys(f"{f['file']} line {f['line']} (`{f['code']}`)" for f in stuck))
    waiting = f"{_ranks(hung)} {'was' if len(hung) == 1 else 'were'} still waiting after " \
              f"{raw.get('wall', TIMEOUT):.0f} s"
    message = (f"{reply.what} never finished: {waiting}"
               + (f" ({_ranks(done)} returned)" if done else "")
               + (f", stuck at {where}" if where else "") + f". {why}")
    raise Deadlock(message, stacks=raw.get("stacks", []), stall_cpu_ratio=ratio,
                   running_threads=raw.get("running_threads"), hung_ranks=hung,
                   synchronous_sends=strict)


def _partner(rank: int, ranks: int) -> int:
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    return partner if partner < ranks else rank


def _make(rank, n, dtype, shape, offset):
    return (np.arange(n) + offset * rank).astype(dtype).reshape(shape)


def _expect_array(got, expected, what: str, hint: str = "") -> None:
    if not isinstance(got, np.ndarray):
        raise Failed(f"{what} returned {got!r:.200}, expected a numpy array. {hint}".rstrip(),
                     expected=repr(expected), got=repr(got)[:300])
    if got.dtype != expected.dtype:
        raise Failed(f"{what} returned an array of dtype {got.dtype}, expected {expected.dtype} "
                     "(the partner's array, unchanged).", expected=str(expected.dtype),
                     got=str(got.dtype))
    expect_equal(got, expected, what, hint)


def _expect_swapped(values, ranks: int, make, what: str) -> None:
    """`values[r]` must be the array rank `_partner(r)` passed in (`make(rank)` rebuilds it)."""
    if not isinstance(values, list) or len(values) != ranks:
        raise Failed(f"{what}: expected one result per rank, got {values!r:.200}.")
    for rank, got in enumerate(values):
        source = _partner(rank, ranks)
        if source == rank:
            hint = (f"With {ranks} rank{'s' if ranks > 1 else ''}, rank {rank} has no partner: "
                    "it returns its own array.")
        else:
            hint = f"Ranks 2i and 2i+1 swap: rank {rank} gets the array of rank {source}."
            if isinstance(got, np.ndarray):
                same = [s for s in range(ranks)
                        if np.shape(got) == np.shape(make(s)) and np.array_equal(got, make(s))]
                if same:
                    hint += f" It got the array of rank {same[0]}."
        _expect_array(got, make(source), f"{what}: rank {rank}", hint)


# ---------------------------------------------------------------- tests

def test_two_ranks_swap(student):
    """2 ranks swap their arrays"""
    values = _exchange(student, _swap, 10, "int64", [10], 1000, ranks=2, strict=False)
    _expect_swapped(values, 2, lambda r: _make(r, 10, "int64", [10], 1000), "2 ranks, 10 int64")


def test_two_ranks_swap_with_synchronous_sends(student):
    """2 ranks swap their arrays, even when every send is synchronous"""
    values = _exchange(student, _swap, 10, "float64", [10], 1000, ranks=2, strict=True)
    _expect_swapped(values, 2, lambda r: _make(r, 10, "float64", [10], 1000),
                    "2 ranks, 10 float64, synchronous sends")
