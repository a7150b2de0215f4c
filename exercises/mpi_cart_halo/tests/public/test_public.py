"""Public tests for mpi_cart_halo: run them with `grader check mpi_cart_halo`."""

from halo_checks import expect_halo


# ---------------------------------------------------------------- probes (run in the sandbox)

def _halo(mod, dims, shape, dtype):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    h, w = shape
    whole = np.arange(dims[0] * h * dims[1] * w).reshape(dims[0] * h, dims[1] * w).astype(dtype)
    i, j = divmod(comm.rank, dims[1])
    local = np.ascontiguousarray(whole[i * h:(i + 1) * h, j * w:(j + 1) * w])
    return mod.halo_exchange(comm, local, list(dims))


# ---------------------------------------------------------------- tests

def test_two_ranks_in_a_row(student):
    """A 1x2 grid: each rank's block with its halo, corners included"""
    expect_halo(student, _halo, (1, 2), (3, 4), strict=False)


def test_two_by_two(student):
    """A 2x2 grid with synchronous sends: halos wrap around rows and columns"""
    expect_halo(student, _halo, (2, 2), (3, 3))
