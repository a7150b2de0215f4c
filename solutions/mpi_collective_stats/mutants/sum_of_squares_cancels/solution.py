"""Mutant: variance as sum(x*x)/n - mean**2 (one pass): right for numbers near 0, digits lost for large ones."""

import math

import numpy as np
from mpi4py import MPI


def distributed_stats(comm, data=None, root=0):
    rank, size = comm.Get_rank(), comm.Get_size()
    parts = np.array_split(np.asarray(data, dtype=np.float64), size) if rank == root else None
    local = comm.scatter(parts, root=root)
    count = comm.allreduce(local.size, op=MPI.SUM)
    total = comm.reduce(float(local.sum()), op=MPI.SUM, root=root)
    total_sq = comm.reduce(float((local * local).sum()), op=MPI.SUM, root=root)
    if rank != root:
        return None
    mean = total / count
    return mean, math.sqrt(max(0.0, total_sq / count - mean * mean))
