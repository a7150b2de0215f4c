"""Hidden tests for mpi_collective_stats."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from stats_checks import _stats, expect_stats  # noqa: E402


# ---------------------------------------------------------------- tests

def test_one_rank(student):
    """1 rank: the mean and standard deviation of all the data"""
    expect_stats(student, _stats, 17, 3, ranks=1)


def test_length_not_divisible_by_ranks(student):
    """Lengths that do not divide by the rank count (10 on 3 ranks, 23 on 4, 11 on 5)"""
    for n, ranks, seed in ((10, 3, 4), (23, 4, 5), (11, 5, 6)):
        expect_stats(student, _stats, n, seed, ranks=ranks)


def test_fewer_elements_than_ranks(student):
    """Fewer numbers than ranks: 3 numbers on 5 ranks, 1 number on 2 ranks"""
    for n, ranks, seed in ((3, 5, 7), (1, 2, 8)):
        expect_stats(student, _stats, n, seed, ranks=ranks)


def test_another_root(student):
    """The data and the result on rank 2 of 3, then on rank 3 of 4"""
    for ranks, root, seed in ((3, 2, 9), (4, 3, 10)):
        expect_stats(student, _stats, 30, seed, ranks=ranks, root=root)


def test_large_data(student):
    """A million numbers on 3 ranks"""
    expect_stats(student, _stats, 1_000_000, 11, ranks=3, strict=False)
