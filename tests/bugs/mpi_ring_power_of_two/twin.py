"""MPI ring allreduce (correct twin): each array passed once around the ring, any rank count."""

import numpy as np
from mpi4py import MPI


def ring_allreduce(comm, x):
    size, rank = comm.Get_size(), comm.Get_rank()
    right, left = (rank + 1) % size, (rank - 1) % size
    total = np.array(x, copy=True)
    passing = np.array(x, copy=True)
    for _ in range(size - 1):
        incoming = np.empty_like(passing)
        comm.Sendrecv(passing, dest=right, recvbuf=incoming, source=left)
        total += incoming
        passing = incoming
    return total
