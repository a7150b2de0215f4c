"""Hidden tests for mpi_pairwise_exchange."""

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


def _swap_many(mod, cases):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    out = []
    for n, dtype, shape, offset in cases:
        arr = (np.arange(n) + offset * comm.rank).astype(dtype).reshape(shape)
        out.append(mod.exchange(comm, arr))
    return out


def _swap_large(mod, n, step):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    out = mod.exchange(comm, np.arange(n, dtype=np.float64) + n * comm.rank)
    if not isinstance(out, np.ndarray):
        return {"type": type(out).__name__}
    return {"type": "ndarray", "shape": list(out.shape), "dtype": str(out.dtype),
            "sample": out.ravel()[::step].tolist(), "sum": float(out.sum())}


def _keeps_input(mod, n):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    arr = np.arange(n, dtype=np.int64) + 1000 * comm.rank
    before = arr.copy()
    out = mod.exchange(comm, arr)
    return {"input_unchanged": bool(np.array_equal(arr, before)),
            "shares_input": isinstance(out, np.ndarray) and bool(np.shares_memory(out, arr)),
            "value": out}


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

def test_one_rank_returns_its_own_array(student):
    """With 1 rank, exchange returns the rank's own array"""
    values = _exchange(student, _swap, 10, "int64", [10], 1000, ranks=1, strict=True)
    _expect_swapped(values, 1, lambda r: _make(r, 10, "int64", [10], 1000), "1 rank, 10 int64")


def test_four_ranks_swap_in_pairs(student):
    """4 ranks: 0 and 1 swap, 2 and 3 swap (synchronous sends)"""
    values = _exchange(student, _swap, 10, "int64", [10], 1000, ranks=4, strict=True)
    _expect_swapped(values, 4, lambda r: _make(r, 10, "int64", [10], 1000),
                    "4 ranks, 10 int64, synchronous sends")


def test_five_ranks_last_rank_keeps_its_array(student):
    """5 ranks: pairs swap and rank 4, without a partner, keeps its own array"""
    values = _exchange(student, _swap, 10, "int64", [10], 1000, ranks=5, strict=True)
    _expect_swapped(values, 5, lambda r: _make(r, 10, "int64", [10], 1000),
                    "5 ranks, 10 int64, synchronous sends")


def test_dtypes_and_shapes(student):
    """Arrays of other dtypes and shapes (and empty ones) are swapped unchanged"""
    cases = [[7, "float32", [7], 1000], [6, "complex128", [3, 2], 1000],
             [12, "int8", [3, 4], 20], [5, "uint16", [5], 1000], [0, "float64", [0], 1000],
             [8, "bool", [2, 2, 2], 1]]
    values = _exchange(student, _swap_many, cases, ranks=4, strict=False)
    if not isinstance(values, list) or len(values) != 4:
        raise Failed(f"expected one result per rank, got {values!r:.200}.")
    for i, (n, dtype, shape, offset) in enumerate(cases):
        per_rank = [v[i] if isinstance(v, list) and len(v) == len(cases) else v for v in values]
        _expect_swapped(per_rank, 4, lambda r: _make(r, n, dtype, shape, offset),
                        f"4 ranks, a {dtype} array of shape {tuple(shape)}")


def test_large_message(student):
    """2 ranks swap arrays of a million float64 (8 MB) without deadlock"""
    n, step = 1_000_000, 99_991
    values = _exchange(student, _swap_large, n, step, ranks=2, strict=False)
    for rank in range(2):
        exp = np.arange(n, dtype=np.float64) + n * (1 - rank)
        expected = {"type": "ndarray", "shape": [n], "dtype": "float64",
                    "sample": exp[::step].tolist(), "sum": float(exp.sum())}
        got = values[rank] if isinstance(values, list) and len(values) == 2 else values
        if got != expected:
            raise Failed(f"2 ranks, {n} float64: rank {rank} did not get the array of rank "
                         f"{1 - rank} (returned {got!r:.300}).", got=repr(got)[:500])


def test_input_array_left_unchanged(student):
    """exchange returns a new array and leaves the caller's array unchanged"""
    values = _exchange(student, _keeps_input, 10, ranks=2, strict=False)
    _expect_swapped([v.get("value") if isinstance(v, dict) else v for v in values], 2,
                    lambda r: _make(r, 10, "int64", [10], 1000), "2 ranks, 10 int64")
    for rank, v in enumerate(values):
        if not v["input_unchanged"]:
            raise Failed(f"On rank {rank}, exchange changed the caller's array: receive into a new "
                         "array (np.empty_like(arr)) and return that.")
        if v["shares_input"]:
            raise Failed(f"On rank {rank}, exchange returned an array that shares memory with the "
                         "caller's array: return a new array.")
