"""Hidden tests for mpi_ring_allreduce."""

import sys
from pathlib import Path

import numpy as np

from grader.judge.expect_mpi import run_ranks
from grader.testing import Failed, requirement

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from ring_checks import RING, TIMEOUT, _ring, expect_sums  # noqa: E402

COLLECTIVES = ("Barrier", "barrier", "bcast", "Bcast", "reduce", "Reduce", "allreduce",
               "Allreduce", "gather", "Gather", "Gatherv", "allgather", "Allgather",
               "Allgatherv", "scatter", "Scatter", "Scatterv", "alltoall", "Alltoall",
               "Alltoallv", "scan", "Scan", "exscan", "Exscan", "Reduce_scatter",
               "Reduce_scatter_block", "Iallreduce", "Ireduce", "Ibcast", "Iallgather")


# ---------------------------------------------------------------- probes (run in the sandbox)

def _large(mod, n, step):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    out = mod.ring_allreduce(comm, np.arange(n, dtype=np.float64) * (comm.rank + 1))
    if not isinstance(out, np.ndarray):
        return {"type": type(out).__name__}
    return {"type": "ndarray", "shape": list(out.shape), "dtype": str(out.dtype),
            "sample": out.ravel()[::step].tolist()}


def _partners(mod, n):
    """ring_allreduce on a communicator that records the destination of every message sent
    (lower- and upper-case sends, nonblocking and Sendrecv), and below Python every send the
    process makes, whatever object made it: {"value", "dests"}."""
    from mpi4py import MPI
    import numpy as np

    from grader.checks import mpi_shim

    comm = MPI.COMM_WORLD
    dests = set()

    def watch(name):
        def method(self, *args, **kwargs):
            dest = kwargs.get("dest", args[1] if len(args) > 1 else None)
            if isinstance(dest, int):
                dests.add(dest)
            return getattr(super(cls, self), name)(*args, **kwargs)
        return method

    names = ("send", "Send", "ssend", "Ssend", "isend", "Isend", "issend", "Issend", "bsend",
             "Bsend", "sendrecv", "Sendrecv", "Sendrecv_replace")
    cls = type("Watched", (type(comm),), {n: watch(n) for n in names if hasattr(type(comm), n)})
    comm = MPI.COMM_WORLD = cls(comm)
    x = np.arange(n, dtype=np.int64) * (comm.rank + 1)
    with mpi_shim.sends_recorded() as sent_to:
        value = mod.ring_allreduce(comm, x)
    return {"value": value, "dests": sorted(dests.union(sent_to() or ()))}


# ---------------------------------------------------------------- tests

@requirement("sum")
def test_one_rank_returns_a_copy(student):
    """1 rank: the sum is the rank's own array (a copy)"""
    expect_sums(student, _ring, [[6, "int64", [6]], [6, "float64", [2, 3]]], ranks=1)


@requirement("sum")
def test_non_power_of_two_rank_counts(student):
    """3 and 5 ranks (not powers of two): every rank gets the sum"""
    for ranks in (3, 5):
        expect_sums(student, _ring, [[10, "int64", [10]], [7, "float64", [7]]], ranks=ranks)


@requirement("no-deadlock")
def test_four_ranks_with_synchronous_sends(student):
    """4 ranks with synchronous sends: every rank gets the sum, no deadlock"""
    expect_sums(student, _ring, [[12, "float64", [3, 4]]], ranks=4)


@requirement("sum")
def test_dtypes_and_input_unchanged(student):
    """Integer, float and complex arrays (empty ones too) keep their dtype; x is not modified"""
    cases = [[5, "int32", [5]], [6, "complex128", [3, 2]], [0, "float64", [0]],
             [9, "float32", [3, 3]]]
    expect_sums(student, _ring, cases, ranks=3, strict=False)


@requirement("no-deadlock")
def test_large_buffer(student):
    """2 and 3 ranks sum arrays of a million float64 (8 MB) without deadlock"""
    n, step = 1_000_000, 99_991
    for ranks in (2, 3):
        values = run_ranks(student, _large, n, step, ranks=ranks, strict=False, timeout=TIMEOUT * 2,
                           what=f"ring_allreduce(comm, x) on {ranks} ranks, {n} float64", other=RING)
        exp = np.arange(n, dtype=np.float64) * sum(range(1, ranks + 1))
        want = {"type": "ndarray", "shape": [n], "dtype": "float64", "sample": exp[::step].tolist()}
        for rank, got in enumerate(values):
            if got != want:
                raise Failed(f"ring_allreduce on {ranks} ranks, {n} float64: rank {rank} did not "
                             f"get the sum (returned {got!r:.300}).", got=repr(got)[:500])


@requirement("no-collectives")
def test_no_collectives(student):
    """Only point-to-point messages: collectives (allreduce, reduce, bcast...) are refused"""
    expect_sums(student, _ring, [[6, "int64", [6]]], ranks=3, strict=False, banned=COLLECTIVES)


@requirement("neighbours")
def test_only_ring_neighbours(student):
    """Each rank sends only to its ring neighbours (no star, no all-to-all)"""
    ranks, n = 5, 6
    what = f"ring_allreduce(comm, x) on {ranks} ranks"
    values = run_ranks(student, _partners, n, ranks=ranks, strict=True, timeout=TIMEOUT,
                       what=what, other=RING)
    want = np.arange(n, dtype=np.int64) * sum(range(1, ranks + 1))
    for rank, got in enumerate(values):
        ring = {(rank + 1) % ranks, (rank - 1) % ranks}
        others = sorted(set(got["dests"]) - ring)
        if others:
            raise Failed(f"In {what}, rank {rank} sent messages to rank(s) {others}, which are not "
                         f"its ring neighbours ({sorted(ring)}): in a ring allreduce each rank "
                         "only passes data to the right and receives from the left, size - 1 "
                         "times; gathering everything on one rank is another algorithm.",
                         dests=got["dests"], rank=rank)
        if not (isinstance(got["value"], np.ndarray) and np.array_equal(got["value"], want)):
            raise Failed(f"{what}: rank {rank} returned {got['value']!r:.200}, expected the sum "
                         f"{want.tolist()}.")
