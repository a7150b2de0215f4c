"""Public tests for mpi_pi: run them with `grader check mpi_pi`."""

from grader.testing import requirement

from pi_checks import _pi, expect_midpoint


@requirement("root-only")
def test_two_ranks(student):
    """2 ranks, 1000 intervals: rank 0 returns the midpoint-rule estimate"""
    expect_midpoint(student, _pi, 1000, ranks=2, strict=False)


@requirement("root-only")
def test_result_only_on_rank_0(student):
    """4 ranks: the estimate on rank 0, None on ranks 1 to 3"""
    expect_midpoint(student, _pi, 4000, ranks=4)
