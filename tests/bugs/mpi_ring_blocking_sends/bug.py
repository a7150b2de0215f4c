"""Every rank sends to its right, then receives from its left: a cycle of blocking sends
(it hangs as soon as the messages are too large to be buffered)."""
import numpy as np


def run(comm, n):
    """Every rank passes its array once around the ring; returns the sum of all arrays."""
    rank, size = comm.Get_rank(), comm.Get_size()
    right, left = (rank + 1) % size, (rank - 1) % size
    mine = np.full(n, rank + 1, dtype=np.int64)
    total, moving = mine.copy(), mine
    for _ in range(size - 1):
        incoming = np.empty(n, dtype=np.int64)
        comm.Send(moving, dest=right)
        comm.Recv(incoming, source=left)
        moving = incoming
        total += moving
    return total.tolist()
