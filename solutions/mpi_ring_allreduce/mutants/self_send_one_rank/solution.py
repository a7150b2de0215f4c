"""Mutant of mpi_ring_allreduce: a running sum passed from rank 0 around the ring, then the sum
passed around once more, with blocking sends. Right for 2 or more ranks (every send meets a
receive already waiting); with 1 rank, rank 0's right neighbour is itself, and its first
synchronous send to itself waits for a receive it can never reach."""

import numpy as np


def ring_allreduce(comm, x):
    size, rank = comm.Get_size(), comm.Get_rank()
    right, left = (rank + 1) % size, (rank - 1) % size
    total = np.array(x, copy=True)
    if rank == 0:
        comm.Send(total, dest=right)  # the running sum starts here
        comm.Recv(total, source=left)  # back with every rank's array added
        comm.Send(total, dest=right)  # and once more around with the sum
    else:
        partial = np.empty_like(total)
        comm.Recv(partial, source=left)
        total += partial
        comm.Send(total, dest=right)
        comm.Recv(total, source=left)
        if right != 0:
            comm.Send(total, dest=right)
    return total
