import numpy as np


def mpi_pi(comm, n_intervals):
    rank, size = comm.Get_rank(), comm.Get_size()
    lo, hi = rank * n_intervals // size, (rank + 1) * n_intervals // size
    x = (np.arange(lo, hi, dtype=np.float64) + 0.5) / n_intervals
    partial = float(np.sum(4.0 / (1.0 + x * x))) / n_intervals
    if rank != 0:
        comm.send(partial, dest=0, tag=7)
        return None
    for source in range(1, size):
        partial += comm.recv(source=source, tag=7)
    return partial
