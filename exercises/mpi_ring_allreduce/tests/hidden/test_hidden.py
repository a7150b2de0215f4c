"""Hidden tests for mpi_ring_allreduce."""

import sys
from pathlib import Path

import numpy as np

from grader.judge.expect_mpi import run_ranks
from grader.testing import Failed

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


# ---------------------------------------------------------------- tests

def test_one_rank_returns_a_copy(student):
    """1 rank: the sum is the rank's own array (a copy)"""
    expect_sums(student, _ring, [[6, "int64", [6]], [6, "float64", [2, 3]]], ranks=1)


def test_non_power_of_two_rank_counts(student):
    """3 and 5 ranks (not powers of two): every rank gets the sum"""
    for ranks in (3, 5):
        expect_sums(student, _ring, [[10, "int64", [10]], [7, "float64", [7]]], ranks=ranks)


def test_four_ranks_with_synchronous_sends(student):
    """4 ranks with synchronous sends: every rank gets the sum, no deadlock"""
    expect_sums(student, _ring, [[12, "float64", [3, 4]]], ranks=4)


def test_dtypes_and_input_unchanged(student):
    """Integer, float and complex arrays (empty ones too) keep their dtype; x is not modified"""
    cases = [[5, "int32", [5]], [6, "complex128", [3, 2]], [0, "float64", [0]],
             [9, "float32", [3, 3]]]
    expect_sums(student, _ring, cases, ranks=3, strict=False)


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


def test_no_collectives(student):
    """Only point-to-point messages: collectives (allreduce, reduce, bcast...) are refused"""
    expect_sums(student, _ring, [[6, "int64", [6]]], ranks=3, strict=False, banned=COLLECTIVES)
