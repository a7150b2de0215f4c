"""MPI exchange of 8 MB with the receive posted first (correct twin): `Irecv`, then the blocking
`Send`, then `Wait`. Safe at any message size and with synchronous sends: each rank's receive
is already posted when its partner's send starts."""
import numpy as np


def run(comm, n):
    partner = comm.rank ^ 1
    data, got = np.full(n, comm.rank, dtype="i"), np.empty(n, dtype="i")
    request = comm.Irecv(got, source=partner)
    comm.Send(data, dest=partner)
    request.Wait()
    return int(got.sum())
