"""Mutant: every rank's mean and standard deviation, averaged on the root (wrong for parts
of different lengths, nan for empty parts)."""

import numpy as np
from mpi4py import MPI


def distributed_stats(comm, data=None, root=0):
    rank, size = comm.Get_rank(), comm.Get_size()
    parts = np.array_split(np.asarray(data, dtype=np.float64), size) if rank == root else None
    local = comm.scatter(parts, root=root)
    stats = comm.gather((local.mean(), local.std()), root=root)
    if rank != root:
        return None
    return float(np.mean([m for m, _ in stats])), float(np.mean([s for _, s in stats]))
