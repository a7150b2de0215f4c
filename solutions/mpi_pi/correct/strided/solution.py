import numpy as np
from mpi4py import MPI


def mpi_pi(comm, n_intervals):
    rank, size = comm.Get_rank(), comm.Get_size()
    h = 1.0 / n_intervals
    partial = 0.0
    step = size << 20
    for a in range(rank, n_intervals, step):
        x = (np.arange(a, min(a + step, n_intervals), size) + 0.5) * h
        partial += float(np.sum(4.0 / (1.0 + x * x)))
    return comm.reduce(partial * h, op=MPI.SUM, root=0)
