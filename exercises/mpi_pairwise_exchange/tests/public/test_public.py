"""Public tests for mpi_pairwise_exchange: run them with `grader check mpi_pairwise_exchange`."""

from grader.testing import requirement

from swap_checks import exchange_on, expect_swapped, make


# ---------------------------------------------------------------- probes (run in the sandbox)

def _swap(mod, n, dtype, shape, offset):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    arr = (np.arange(n) + offset * comm.rank).astype(dtype).reshape(shape)
    return mod.exchange(comm, arr)


# ---------------------------------------------------------------- tests

@requirement("pairs")
def test_two_ranks_swap(student):
    """2 ranks swap their arrays"""
    values = exchange_on(student, _swap, 10, "int64", [10], 1000, ranks=2, strict=False)
    expect_swapped(values, 2, lambda r: make(r, 10, "int64", [10], 1000), "2 ranks, 10 int64")


@requirement("no-deadlock")
def test_two_ranks_swap_with_synchronous_sends(student):
    """2 ranks swap their arrays, even when every send is synchronous"""
    values = exchange_on(student, _swap, 10, "float64", [10], 1000, ranks=2, strict=True)
    expect_swapped(values, 2, lambda r: make(r, 10, "float64", [10], 1000),
                    "2 ranks, 10 float64, synchronous sends")
