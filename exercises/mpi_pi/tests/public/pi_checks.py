"""Shared by the public and hidden tests of mpi_pi: run `mpi_pi` on N ranks and check rank 0's
estimate against the midpoint sum, and None elsewhere."""

import math

import numpy as np

from grader.judge.expect_mpi import run_ranks
from grader.testing import Failed

TIMEOUT = 4  # seconds from the call


def _pi(mod, n):
    from mpi4py import MPI

    return mod.mpi_pi(MPI.COMM_WORLD, n)


def midpoint_pi(n: int) -> float:
    h = 1.0 / n
    x = (np.arange(n) + 0.5) * h
    return float(np.sum(4.0 / (1.0 + x * x))) * h


def pi_on(student, probe, n, ranks, strict=True):
    """Rank 0's estimate, after checking that the other ranks returned None."""
    what = f"mpi_pi(comm, {n}) on {ranks} rank{'s' if ranks > 1 else ''}"
    values = run_ranks(student, probe, n, ranks=ranks, strict=strict, timeout=TIMEOUT, what=what)
    if not isinstance(values, list) or len(values) != ranks:
        raise Failed(f"{what}: expected one result per rank, got {values!r:.200}.")
    for rank, got in enumerate(values[1:], start=1):
        if got is not None:
            raise Failed(f"{what}: rank {rank} returned {got!r:.100}, expected None: only rank 0 "
                         "returns the estimate (comm.reduce gives None elsewhere).")
    if isinstance(values[0], bool) or not isinstance(values[0], (int, float)):
        raise Failed(f"{what}: rank 0 returned {values[0]!r:.100}, expected a float.")
    return float(values[0]), what


def expect_midpoint(student, probe, n, ranks, strict=True) -> None:
    got, what = pi_on(student, probe, n, ranks, strict)
    want = midpoint_pi(n)
    if not math.isclose(got, want, rel_tol=0, abs_tol=1e-12):
        hint = ""
        if ranks > 1 and n % ranks and math.isclose(got, want - _tail(n, ranks), abs_tol=1e-12):
            hint = (f" The last {n % ranks} interval(s) are missing: {n} intervals do not divide "
                    f"by {ranks} ranks, so n // size intervals per rank leave some out.")
        raise Failed(f"{what}: rank 0 returned {got!r}, the midpoint rule gives {want!r}."
                     + hint, expected=repr(want), got=repr(got))


def _tail(n, ranks):
    h = 1.0 / n
    x = (np.arange(n // ranks * ranks, n) + 0.5) * h
    return float(np.sum(4.0 / (1.0 + x * x))) * h
