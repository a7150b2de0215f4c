"""Mutant: the collective the exercise asks to build by hand."""

import numpy as np
from mpi4py import MPI


def ring_allreduce(comm, x):
    return comm.allreduce(np.array(x, copy=True), op=MPI.SUM)
