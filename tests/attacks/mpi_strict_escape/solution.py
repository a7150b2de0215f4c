"""Attack: escape the strict (synchronous-send) mode. The send_first mutant (both ranks of a
pair Send, then Recv: at most 4/10 honestly), which first rebuilds its communicator with
MPI.Intracomm(comm): the grader's strict subclass is dropped, small sends go eager again
and the deadlock only shows with the one 8 MB message."""

import numpy as np
from mpi4py import MPI


def exchange(comm, arr):
    comm = MPI.Intracomm(comm)  # a plain communicator: the grader's strict mode is gone
    rank, size = comm.Get_rank(), comm.Get_size()
    partner = rank + 1 if rank % 2 == 0 else rank - 1
    if partner >= size:
        return np.array(arr, copy=True)
    send = np.ascontiguousarray(arr)
    out = np.empty_like(send)
    comm.Send(send, dest=partner, tag=7)
    comm.Recv(out, source=partner, tag=7)
    return out
