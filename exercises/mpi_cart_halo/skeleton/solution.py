"""Halo exchange on a periodic Cartesian grid. See README.md for the exercise."""

import numpy as np
from mpi4py import MPI


def halo_exchange(comm, local, dims):
    """Your block with a one-element halo from the neighbouring blocks, shape (h + 2, w + 2)."""
    raise NotImplementedError
