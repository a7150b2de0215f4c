"""MPI send-send at a large size: both ranks of a pair `Send` 8 MB first, then `Recv`. Above
MPICH's eager limit (and always with synchronous sends) both wait forever."""
import numpy as np


def run(comm, n):
    partner = comm.rank ^ 1
    data, got = np.full(n, comm.rank, dtype="i"), np.empty(n, dtype="i")
    comm.Send(data, dest=partner)
    comm.Recv(got, source=partner)
    return int(got.sum())
