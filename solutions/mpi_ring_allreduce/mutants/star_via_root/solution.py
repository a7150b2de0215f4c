"""Every rank sends its array to rank 0, which adds them up and sends the sum back: the right
sums, but ranks talk to others than their ring neighbours."""

import numpy as np
from mpi4py import MPI


def ring_allreduce(comm, x):
    size, rank = comm.Get_size(), comm.Get_rank()
    total = np.array(x, copy=True)
    if rank == 0:
        for source in range(1, size):
            part = np.empty_like(total)
            comm.Recv(part, source=source)
            total += part
        for dest in range(1, size):
            comm.Send(total, dest=dest)
    else:
        comm.Send(np.ascontiguousarray(x), dest=0)
        comm.Recv(total, source=0)
    return total
