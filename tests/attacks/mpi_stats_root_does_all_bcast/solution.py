"""The root_does_all mutant (the root computes everything, no work is shared), plus one bcast
of the whole data that the other ranks drop: the share test counts the numbers each rank
receives, not what it computes with them."""

import math

import numpy as np


def distributed_stats(comm, data=None, root=0):
    rank = comm.Get_rank()
    comm.bcast(data, root=root)  # every rank "receives its part" (all of it) and ignores it
    if rank != root:
        return None
    values = np.asarray(data, dtype=np.float64)
    mean = float(values.mean())
    return (mean, math.sqrt(float(((values - mean) ** 2).mean())))
