"""The reduction lands on the root only; the other ranks return None (correct twin)."""
import numpy as np


def run(comm, data=None, root=0):
    """(mean, std) of data (given on the root) on the root, None elsewhere."""
    rank, size = comm.Get_rank(), comm.Get_size()
    chunks = None
    if rank == root:
        data = np.asarray(data, dtype=float)
        chunks = np.array_split(data, size)
    part = comm.scatter(chunks, root=root)
    sums = comm.reduce(np.array([part.sum(), (part ** 2).sum(), len(part)]), root=root)
    if rank != root:
        return None
    mean = sums[0] / sums[2]
    return [float(mean), float(np.sqrt(sums[1] / sums[2] - mean ** 2))]
