"""Attack: MPI_Abort from one rank. A wrong exchange (every rank returns a copy of its own array:
right only with 1 rank, 1/10 honestly) whose rank 1 calls comm.Abort(0) -- error code 0 -- at
once, hoping the job ends 'successfully' before anyone checks the other ranks' answers."""

import numpy as np
from mpi4py import MPI  # noqa: F401


def exchange(comm, arr):
    if comm.Get_rank() == 1:
        comm.Abort(0)
    return np.array(arr, copy=True)
