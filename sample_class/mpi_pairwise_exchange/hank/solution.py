"""Hank: pairwise exchange."""

import numpy as np
from mpi4py import MPI


def exchange(comm, arr):
    rank, size = comm.Get_rank(), comm.Get_size()
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    if partner >= size:
        return np.array(arr, copy=True)
    send = np.ascontiguousarray(arr)
    out = np.empty_like(send)
    comm.Send(send, dest=partner, tag=7)
    comm.Recv(out, source=partner, tag=7)
    return out
