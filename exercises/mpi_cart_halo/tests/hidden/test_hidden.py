"""Hidden tests for mpi_cart_halo."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from halo_checks import GRID, TIMEOUT, _halo, _hint, expect_halo, expected  # noqa: E402

from grader.judge.expect_mpi import expect_array, run_ranks  # noqa: E402
from grader.testing import Failed, requirement  # noqa: E402


def _halo_rotated_twice(mod, dims, shape, dtype):
    """halo_exchange on a communicator whose rank r is COMM_WORLD's rank r - 1, called twice
    with blocks of the same shape: [comm rank, the first result, whether the second call left
    the first result as it was]."""
    from mpi4py import MPI
    import numpy as np

    world = MPI.COMM_WORLD
    comm = world.Split(0, (world.rank + 1) % world.size)
    h, w = shape
    whole = np.arange(dims[0] * h * dims[1] * w).reshape(dims[0] * h, dims[1] * w).astype(dtype)
    i, j = divmod(comm.rank, dims[1])
    local = np.ascontiguousarray(whole[i * h:(i + 1) * h, j * w:(j + 1) * w])
    first = mod.halo_exchange(comm, local, list(dims))
    kept = first.copy() if isinstance(first, np.ndarray) else None
    second = mod.halo_exchange(comm, local + 1, list(dims))
    same = kept is None or bool(np.array_equal(first, kept)) and not (
        isinstance(second, np.ndarray) and np.shares_memory(first, second))
    return [comm.rank, kept, same]


def _halo_local_kept(mod, dims, shape, dtype):
    """halo_exchange's result, and whether the caller's `local` still holds its values after
    the call: [result, local unchanged]."""
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    h, w = shape
    whole = np.arange(dims[0] * h * dims[1] * w).reshape(dims[0] * h, dims[1] * w).astype(dtype)
    i, j = divmod(comm.rank, dims[1])
    local = np.ascontiguousarray(whole[i * h:(i + 1) * h, j * w:(j + 1) * w])
    kept = local.copy()
    got = mod.halo_exchange(comm, local, list(dims))
    return [got, bool(np.array_equal(local, kept))]


def _expect_own_comm_new_arrays(student, dims, shape):
    """The grid is made of the ranks of `comm` (not COMM_WORLD's), and every call returns an
    array of its own (not a buffer the next call overwrites)."""
    ranks = dims[0] * dims[1]
    what = (f"halo_exchange on a {dims[0]}x{dims[1]} grid of a communicator whose rank r is rank "
            "r - 1 of COMM_WORLD, called twice")
    values = run_ranks(student, _halo_rotated_twice, list(dims), list(shape), "int64",
                       ranks=ranks, strict=True, timeout=TIMEOUT, what=what, other=GRID)
    by_rank = {v[0]: v for v in values if isinstance(v, list) and len(v) == 3}
    for rank in range(ranks):
        _, got, same = by_rank.get(rank, [rank, None, True])
        want = expected(dims, shape, "int64", rank)
        hint = _hint(got, want)
        if isinstance(got, type(want)) and got.shape == want.shape and hint:
            hint += (" The grid is made of the ranks of the communicator halo_exchange is given: "
                     "comm.Create_cart(...), not MPI.COMM_WORLD.Create_cart(...).")
        expect_array(got, want, f"{what}: rank {rank} (first call)", hint)
        if not same:
            raise Failed(f"In {what}, the second call changed the array the first call had "
                         f"returned on rank {rank}: the result is a buffer that every call "
                         "reuses. Return a new array each time.")


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
    """A 2x3 grid (6 ranks) with synchronous sends, also of a communicator other than
    COMM_WORLD, and a new array on every call"""
    expect_halo(student, _halo, (2, 3), (2, 2))
    _expect_own_comm_new_arrays(student, (2, 3), (2, 2))


@requirement("corners")
def test_corners(student):
    """The four corners of the halo come from the diagonal neighbours"""
    expect_halo(student, _halo, (2, 2), (2, 5), dtype="float32", strict=False)


@requirement("no-deadlock")
def test_large_blocks(student):
    """A 2x1 grid with 4x20000 blocks (rows of 160 kB: large messages) completes"""
    expect_halo(student, _halo, (2, 1), (4, 20_000), dtype="float64", strict=False)


@requirement("local-unchanged")
def test_local_left_unchanged(student):
    """The caller's `local` holds the same values after the exchange (a 2x2 grid)"""
    dims, shape = (2, 2), (3, 4)
    what = "halo_exchange on a 2x2 grid (4 ranks)"
    values = run_ranks(student, _halo_local_kept, list(dims), list(shape), "int64", ranks=4,
                       strict=False, timeout=TIMEOUT, what=what, other=GRID)
    for rank, value in enumerate(values if isinstance(values, list) else []):
        if isinstance(value, list) and len(value) == 2 and value[1] is False:
            raise Failed(f"In {what}, the caller's `local` array on rank {rank} held other values "
                         "after halo_exchange returned: the exchange wrote into it (a receive "
                         "into local's own rows, or local used as a scratch buffer). `local` is "
                         "the caller's: copy it into the new array and send and receive with "
                         "buffers of your own.")
