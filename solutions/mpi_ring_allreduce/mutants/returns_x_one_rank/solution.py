"""Mutant of mpi_ring_allreduce: the running total starts as `x` itself, not a copy. Each
addition makes a new array, so 2 or more ranks return a new array; with 1 rank nothing is
added and the caller gets its own `x` back."""

import numpy as np


def ring_allreduce(comm, x):
    size, rank = comm.Get_size(), comm.Get_rank()
    right, left = (rank + 1) % size, (rank - 1) % size
    total = x
    passing = np.array(x, copy=True)
    for _ in range(size - 1):
        incoming = np.empty_like(passing)
        comm.Sendrecv(passing, dest=right, recvbuf=incoming, source=left)
        total = total + incoming
        passing = incoming
    return total
