"""Public tests for mpi_ring_allreduce: run them with `grader check mpi_ring_allreduce`."""

from grader.testing import requirement

from ring_checks import _ring, expect_sums


# ---------------------------------------------------------------- tests

@requirement("sum")
def test_two_ranks_sum(student):
    """2 ranks: both get the elementwise sum"""
    expect_sums(student, _ring, [[8, "int64", [8]]], ranks=2, strict=False)


@requirement("no-deadlock")
def test_three_ranks_with_synchronous_sends(student):
    """3 ranks with synchronous sends: every rank gets the sum, no deadlock"""
    expect_sums(student, _ring, [[8, "float64", [8]]], ranks=3, strict=True)
