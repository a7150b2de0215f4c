"""MPI Cartesian halo: neighbours from rank arithmetic (rank +- 1, rank +- dims[1]) instead of
cart.Shift: left and right do not wrap within a row (a shift off by one row)."""

import numpy as np
from mpi4py import MPI


def halo_exchange(comm, local, dims):
    rank, size = comm.Get_rank(), comm.Get_size()
    up, down = (rank - dims[1]) % size, (rank + dims[1]) % size
    left, right = (rank - 1) % size, (rank + 1) % size
    h, w = local.shape
    out = np.zeros((h + 2, w + 2), dtype=local.dtype)
    out[1:-1, 1:-1] = local
    recv = np.empty(w, dtype=local.dtype)
    comm.Sendrecv(np.ascontiguousarray(out[-2, 1:-1]), dest=down, recvbuf=recv, source=up)
    out[0, 1:-1] = recv
    comm.Sendrecv(np.ascontiguousarray(out[1, 1:-1]), dest=up, recvbuf=recv, source=down)
    out[-1, 1:-1] = recv
    col = np.empty(h + 2, dtype=local.dtype)
    comm.Sendrecv(np.ascontiguousarray(out[:, -2]), dest=right, recvbuf=col, source=left)
    out[:, 0] = col
    comm.Sendrecv(np.ascontiguousarray(out[:, 1]), dest=left, recvbuf=col, source=right)
    out[:, -1] = col
    return out
