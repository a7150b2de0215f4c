"""Mutant: pairs the ranks of MPI.COMM_WORLD, whatever communicator it is given."""

import numpy as np
from mpi4py import MPI


def exchange(comm, arr):
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    if partner >= size:  # odd number of ranks: the last one has no partner
        return np.array(arr, copy=True)
    send = np.ascontiguousarray(arr)
    out = np.empty_like(send)
    # Sendrecv posts the send and the receive together: it cannot deadlock with the partner's.
    comm.Sendrecv(send, dest=partner, sendtag=7, recvbuf=out, source=partner, recvtag=7)
    return out
