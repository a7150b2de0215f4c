"""Shared by the public and hidden tests of mpi_pairwise_exchange: running `exchange` on N
ranks and checking that ranks 2i and 2i+1 swapped their arrays."""

import numpy as np

from grader.judge.expect_mpi import expect_per_rank, run_ranks
from grader.testing import StudentError

TIMEOUT = 5  # seconds: a correct exchange takes well under one, a deadlock never ends
PAIRS = ("The ranks wait for each other forever: every send needs a matching receive posted "
         "by the partner (same pair, same tag). Rank 2i pairs with rank 2i+1; Sendrecv sends "
         "and receives at once and cannot deadlock with its partner's Sendrecv.")


def exchange_on(student, probe, *args, ranks, strict):
    """Per-rank values of `probe`; a hang is explained rank by rank, and an error on the odd last
    rank alone says that this rank has no partner."""
    what = f"exchange(comm, arr) on {ranks} rank{'s' if ranks > 1 else ''}"
    try:
        return run_ranks(student, probe, *args, ranks=ranks, strict=strict, timeout=TIMEOUT,
                         what=what, other=PAIRS)
    except StudentError as exc:
        reply = student.last
        bad = [r.rank for r in reply.ranks or [] if r.status != "ok"]
        not_done = (exc.details.get("exception") or {}).get("type") == "NotImplementedError"
        if ranks % 2 and bad == [ranks - 1] and not not_done:
            raise StudentError(exc.message + f" With {ranks} rank{'s' if ranks > 1 else ''}, "
                               f"rank {ranks - 1} has no partner: it must not send or receive, "
                               "only return its own array.", **exc.details) from None
        raise


def partner(rank: int, ranks: int) -> int:
    other = rank + 1 if rank % 2 == 0 else rank - 1
    return other if other < ranks else rank


def make(rank, n, dtype, shape, offset):
    """The array rank `rank` passes in (what the probes build)."""
    return (np.arange(n) + offset * rank).astype(dtype).reshape(shape)


def expect_swapped(values, ranks: int, build, what: str) -> None:
    """`values[r]` must be the array that rank `partner(r)` passed in (`build(rank)`)."""
    def hint(rank, got):
        source = partner(rank, ranks)
        if source == rank:
            return (f"With {ranks} rank{'s' if ranks > 1 else ''}, rank {rank} has no partner: "
                    "it returns its own array.")
        text = f"Ranks 2i and 2i+1 swap: rank {rank} gets the array of rank {source}."
        same = [s for s in range(ranks) if isinstance(got, np.ndarray)
                and np.shape(got) == np.shape(build(s)) and np.array_equal(got, build(s))]
        return text + (f" It got the array of rank {same[0]}." if same else "")

    expect_per_rank(values, ranks, lambda r: build(partner(r, ranks)), what, hint)
