"""Public tests for mpi_collective_stats: run them with `grader check mpi_collective_stats`."""

from grader.testing import requirement

from stats_checks import _stats, expect_stats


# ---------------------------------------------------------------- tests

@requirement("population-std")
def test_two_ranks(student):
    """2 ranks, 10 numbers: the root gets the mean and standard deviation"""
    expect_stats(student, _stats, 10, 1, ranks=2, strict=False)


@requirement("root-only")
def test_only_the_root_gets_the_result(student):
    """4 ranks, 40 numbers: (mean, std) on the root, None on the other ranks"""
    expect_stats(student, _stats, 40, 2, ranks=4)
