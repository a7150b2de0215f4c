"""Shared by the public and hidden tests of mpi_cart_halo: run `halo_exchange` on a grid of
ranks and compare each rank's result with its window of numpy.pad(global, 1, mode="wrap")."""

import numpy as np

from grader.judge.expect_mpi import expect_array, run_ranks
from grader.testing import Failed

TIMEOUT = 4  # seconds from the call
GRID = ("The ranks wait for each other forever: every rank sends a border to one neighbour and "
        "receives from the opposite one; if all of them send first, nobody receives. Use "
        "Sendrecv for each pair of directions.")


# ---------------------------------------------------------------- the probe (runs in the sandbox)

def _halo(mod, dims, shape, dtype):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    h, w = shape
    whole = np.arange(dims[0] * h * dims[1] * w).reshape(dims[0] * h, dims[1] * w).astype(dtype)
    i, j = divmod(comm.rank, dims[1])
    local = np.ascontiguousarray(whole[i * h:(i + 1) * h, j * w:(j + 1) * w])
    return mod.halo_exchange(comm, local, list(dims))


def global_array(dims, shape, dtype):
    h, w = shape
    return np.arange(dims[0] * h * dims[1] * w).reshape(dims[0] * h, dims[1] * w).astype(dtype)


def expected(dims, shape, dtype, rank):
    h, w = shape
    i, j = divmod(rank, dims[1])  # row-major, as Create_cart lays ranks out without reordering
    padded = np.pad(global_array(dims, shape, dtype), 1, mode="wrap")
    return padded[i * h:i * h + h + 2, j * w:j * w + w + 2]


def _hint(got, want) -> str:
    if not (isinstance(got, np.ndarray) and got.shape == want.shape):
        return ""
    inner = np.ones(want.shape, bool)
    inner[[0, -1], :] = inner[:, [0, -1]] = False
    if not np.array_equal(got[inner], want[inner]):
        return "Your own block (the inside of the result) is not unchanged."
    corners = np.zeros(want.shape, bool)
    corners[[0, 0, -1, -1], [0, -1, 0, -1]] = True
    edges = ~inner & ~corners
    if np.array_equal(got[edges], want[edges]):
        return ("Only the corners are wrong: they hold the diagonal neighbours' values. Exchange "
                "the rows first, then whole columns of the row-extended array (halo rows "
                "included), and the corners arrive with them.")
    if not np.array_equal(got[1:-1, [0, -1]], want[1:-1, [0, -1]]):
        return ("The left or right halo came from the wrong rank: take neighbours from the "
                "Cartesian communicator (cart.Shift(1, 1)), not from rank +- 1, which does not "
                "wrap around within a row.")
    return ("The top or bottom halo came from the wrong rank: take neighbours from "
            "cart.Shift(0, 1).")


def expect_halo(student, probe, dims, shape, dtype="int64", strict=True) -> None:
    ranks = dims[0] * dims[1]
    what = f"halo_exchange on a {dims[0]}x{dims[1]} grid ({ranks} rank{'s' if ranks > 1 else ''})"
    values = run_ranks(student, probe, list(dims), list(shape), dtype, ranks=ranks, strict=strict,
                       timeout=TIMEOUT * (2 if shape[0] * shape[1] > 10_000 else 1),
                       what=what + (" with synchronous sends" if strict else ""), other=GRID)
    if not isinstance(values, list) or len(values) != ranks:
        raise Failed(f"{what}: expected one result per rank, got {values!r:.200}.")
    for rank, got in enumerate(values):
        want = expected(dims, shape, dtype, rank)
        expect_array(got, want, f"{what}, blocks of shape {tuple(shape)}: rank {rank}",
                     _hint(got, want))
