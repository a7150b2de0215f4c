"""Mutant (the odd last rank exchanges with a partner that does not exist) for mpi_pairwise_exchange."""

import numpy as np
from mpi4py import MPI


def exchange(comm, arr):
    rank = comm.Get_rank()
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    send = np.ascontiguousarray(arr)
    out = np.empty_like(send)
    comm.Sendrecv(send, dest=partner, sendtag=7, recvbuf=out, source=partner, recvtag=7)
    return out
