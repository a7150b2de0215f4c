"""Mutant: every rank sends to the right first, then receives from the left (eager sends
make it work for small arrays; synchronous sends or a large array deadlock)."""

import numpy as np
from mpi4py import MPI


def ring_allreduce(comm, x):
    size, rank = comm.Get_size(), comm.Get_rank()
    right, left = (rank + 1) % size, (rank - 1) % size
    total = np.array(x, copy=True)
    passing = np.array(x, copy=True)
    for _ in range(size - 1):
        incoming = np.empty_like(passing)
        comm.Send(passing, dest=right)
        comm.Recv(incoming, source=left)
        total += incoming
        passing = incoming
    return total
