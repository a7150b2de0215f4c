"""Mutant: every call receives into one module-level buffer per shape and dtype, and returns it."""

import numpy as np
from mpi4py import MPI


_BUFFERS = {}


def exchange(comm, arr):
    rank, size = comm.Get_rank(), comm.Get_size()
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    if partner >= size:  # odd number of ranks: the last one has no partner
        return np.array(arr, copy=True)
    send = np.ascontiguousarray(arr)
    key = (send.shape, send.dtype.str)
    out = _BUFFERS.setdefault(key, np.empty_like(send))
    # Sendrecv posts the send and the receive together: it cannot deadlock with the partner's.
    comm.Sendrecv(send, dest=partner, sendtag=7, recvbuf=out, source=partner, recvtag=7)
    return out
