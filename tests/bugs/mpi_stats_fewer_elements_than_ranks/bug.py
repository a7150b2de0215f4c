"""MPI stats: equal parts of len // size elements: the remainder is dropped, and with fewer
elements than ranks nothing is left at all."""

import math

import numpy as np
from mpi4py import MPI


def distributed_stats(comm, data=None, root=0):
    rank, size = comm.Get_rank(), comm.Get_size()
    parts = None
    if rank == root:
        data = np.asarray(data, dtype=np.float64)
        chunk = len(data) // size
        parts = [data[r * chunk:(r + 1) * chunk] for r in range(size)]
    local = comm.scatter(parts, root=root)
    count = comm.allreduce(local.size, op=MPI.SUM)
    mean = comm.allreduce(float(local.sum()), op=MPI.SUM) / count
    squares = comm.reduce(float(((local - mean) ** 2).sum()), op=MPI.SUM, root=root)
    if rank != root:
        return None
    return mean, math.sqrt(squares / count)
