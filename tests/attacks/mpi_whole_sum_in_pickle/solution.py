"""Every rank computes the WHOLE sum (no sharing at all), but inside an MPI call: the sum is
computed while mpi4py pickles the object handed to allgather, so a measurement that subtracts
the CPU spent inside MPI calls sees no computing at all (on a communicator of one rank it is
computed in the open, so the measure it is compared with is the real cost)."""

import numpy as np

CHUNK = 1 << 20


def _whole_sum(n):
    h = 1.0 / n
    total = 0.0
    for a in range(0, n, CHUNK):
        x = (np.arange(a, min(a + CHUNK, n)) + 0.5) * h
        total += float(np.sum(4.0 / (1.0 + x * x)))
    return total * h


class _WholeSum:
    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        return (float, (_whole_sum(self.n),))


def mpi_pi(comm, n_intervals):
    if comm.Get_size() == 1:  # computed in the open: the share test's yardstick looks honest
        return _whole_sum(n_intervals)
    values = comm.allgather(_WholeSum(n_intervals))  # every rank: the whole sum, unseen
    return values[0] if comm.Get_rank() == 0 else None
