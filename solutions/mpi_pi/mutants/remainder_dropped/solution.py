"""Mutant: n // size intervals per rank: the last n % size intervals are never summed."""

import numpy as np
from mpi4py import MPI


def mpi_pi(comm, n_intervals):
    rank, size = comm.Get_rank(), comm.Get_size()
    h = 1.0 / n_intervals
    chunk = n_intervals // size
    x = (np.arange(rank * chunk, (rank + 1) * chunk) + 0.5) * h
    return comm.reduce(float(np.sum(4.0 / (1.0 + x * x))) * h, op=MPI.SUM, root=0)
