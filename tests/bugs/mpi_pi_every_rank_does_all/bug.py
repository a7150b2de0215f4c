"""MPI pi: every rank integrates all the intervals and rank 0 divides the reduced total by the
rank count: the right value, the work repeated on every rank (no speedup)."""

import numpy as np
from mpi4py import MPI

CHUNK = 1 << 20


def mpi_pi(comm, n_intervals):
    h = 1.0 / n_intervals
    total = 0.0
    for a in range(0, n_intervals, CHUNK):
        x = (np.arange(a, min(a + CHUNK, n_intervals)) + 0.5) * h
        total += float(np.sum(4.0 / (1.0 + x * x)))
    summed = comm.reduce(total * h, op=MPI.SUM, root=0)
    return summed / comm.Get_size() if comm.Get_rank() == 0 else None
