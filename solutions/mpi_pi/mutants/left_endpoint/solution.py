"""Mutant: the left end of each interval instead of its midpoint (error about h)."""

import numpy as np
from mpi4py import MPI


def mpi_pi(comm, n_intervals):
    rank, size = comm.Get_rank(), comm.Get_size()
    h = 1.0 / n_intervals
    start, stop = rank * n_intervals // size, (rank + 1) * n_intervals // size
    x = np.arange(start, stop) * h
    return comm.reduce(float(np.sum(4.0 / (1.0 + x * x))) * h, op=MPI.SUM, root=0)
