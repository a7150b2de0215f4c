"""Public tests for mpi_cart_halo: run them with `grader check mpi_cart_halo`."""

from grader.testing import requirement

from halo_checks import _halo, expect_halo


# ---------------------------------------------------------------- tests

@requirement("halo", "corners")
def test_two_ranks_in_a_row(student):
    """A 1x2 grid: each rank's block with its halo, corners included"""
    expect_halo(student, _halo, (1, 2), (3, 4), strict=False)


@requirement("halo", "no-deadlock")
def test_two_by_two(student):
    """A 2x2 grid with synchronous sends: halos wrap around rows and columns"""
    expect_halo(student, _halo, (2, 2), (3, 3))
