"""Mutant: every rank returns the result (allreduce everywhere), not only the root."""

import math

import numpy as np
from mpi4py import MPI


def distributed_stats(comm, data=None, root=0):
    size = comm.Get_size()
    parts = np.array_split(np.asarray(data, dtype=np.float64), size) if comm.Get_rank() == root else None
    local = comm.scatter(parts, root=root)
    count = comm.allreduce(local.size, op=MPI.SUM)
    mean = comm.allreduce(float(local.sum()), op=MPI.SUM) / count
    squares = comm.allreduce(float(((local - mean) ** 2).sum()), op=MPI.SUM)
    return mean, math.sqrt(squares / count)
