"""The rank without a partner returns the caller's own array object, not a new array."""

import numpy as np
from mpi4py import MPI


def exchange(comm, arr):
    rank, size = comm.Get_rank(), comm.Get_size()
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    if partner >= size:  # odd number of ranks: the last one has no partner
        return arr
    send = np.ascontiguousarray(arr)
    out = np.empty_like(send)
    # Sendrecv posts the send and the receive together: it cannot deadlock with the partner's.
    comm.Sendrecv(send, dest=partner, sendtag=7, recvbuf=out, source=partner, recvtag=7)
    return out
