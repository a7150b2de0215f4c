"""Mutant: rank 0 sums every interval; the other ranks only take part in the Reduce."""

import numpy as np
from mpi4py import MPI

CHUNK = 1 << 20


def mpi_pi(comm, n_intervals):
    h = 1.0 / n_intervals
    partial = 0.0
    if comm.Get_rank() == 0:
        for a in range(0, n_intervals, CHUNK):
            x = (np.arange(a, min(a + CHUNK, n_intervals)) + 0.5) * h
            partial += float(np.sum(4.0 / (1.0 + x * x)))
    return comm.reduce(partial * h, op=MPI.SUM, root=0)
