"""Attack: the send_first mutant (both ranks of a pair send, then receive; honestly 4/10) with a
*ready* send. comm.Rsend is MPI_Rsend, which mpi_strict.c does not interpose (it maps only
MPI_Send, MPI_Isend and MPI_Send_init, and their _c forms) and the Python strict communicator
does not wrap (SEND_METHODS has no Rsend): MPICH sends small ready-mode messages eagerly, like a
standard send, so the send-first order goes through under strict mode."""

import numpy as np
from mpi4py import MPI


def exchange(comm, arr):
    rank, size = comm.Get_rank(), comm.Get_size()
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    if partner >= size:
        return np.array(arr, copy=True)
    send = np.ascontiguousarray(arr)
    out = np.empty_like(send)
    comm.Rsend(send, dest=partner, tag=7)  # a "ready" send: MPI_Rsend is not interposed
    comm.Recv(out, source=partner, tag=7)
    return out
