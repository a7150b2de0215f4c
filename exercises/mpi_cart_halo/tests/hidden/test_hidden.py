"""Hidden tests for mpi_cart_halo."""

from grader.testing import requirement

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from halo_checks import _halo, expect_halo  # noqa: E402


# ---------------------------------------------------------------- tests

@requirement("halo")
def test_one_rank_wraps_onto_itself(student):
    """A 1x1 grid: the only rank is its own neighbour on every side"""
    expect_halo(student, _halo, (1, 1), (3, 2))


@requirement("halo")
def test_columns_and_rows_of_three(student):
    """3x1 and 1x3 grids, blocks that are not square"""
    expect_halo(student, _halo, (3, 1), (2, 3))
    expect_halo(student, _halo, (1, 3), (4, 2), dtype="float64")


@requirement("halo", "no-deadlock")
def test_two_by_three_with_synchronous_sends(student):
    """A 2x3 grid (6 ranks) with synchronous sends"""
    expect_halo(student, _halo, (2, 3), (2, 2))


@requirement("corners")
def test_corners(student):
    """The four corners of the halo come from the diagonal neighbours"""
    expect_halo(student, _halo, (2, 2), (2, 5), dtype="float32", strict=False)


@requirement("no-deadlock")
def test_large_blocks(student):
    """A 2x1 grid with 4x20000 blocks (rows of 160 kB: large messages) completes"""
    expect_halo(student, _halo, (2, 1), (4, 20_000), dtype="float64", strict=False)
