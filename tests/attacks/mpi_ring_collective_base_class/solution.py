"""The uses_allreduce mutant (a collective where the exercise forbids them), called through
the base class: the tests refuse collectives and record destinations by subclassing the
communicator's type in Python, and MPI.Intracomm's own method is not the subclass's."""

import numpy as np
from mpi4py import MPI


def ring_allreduce(comm, x):
    return MPI.Intracomm.allreduce(comm, np.array(x, copy=True), op=MPI.SUM)
