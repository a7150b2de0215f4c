"""MPI set-up inside an agent rank: initialise mpi4py and, in strict mode, make sends synchronous.

Strict mode turns `send`/`Send`/`isend`/`Isend` on COMM_WORLD (and communicators derived
from it) into their synchronous forms, so a "both ranks send first" exchange deadlocks at
any message size instead of only above MPICH's eager limit.
"""

from __future__ import annotations


def init(options: dict) -> int:
    from mpi4py import MPI

    if options.get("strict"):
        _make_sends_synchronous(MPI)
    return MPI.COMM_WORLD.Get_rank()


def _make_sends_synchronous(MPI) -> None:
    swaps = {"send": "ssend", "Send": "Ssend", "isend": "issend", "Isend": "Issend"}
    # mpi4py communicator classes are extension types: wrap COMM_WORLD in a subclass instance.
    world = MPI.COMM_WORLD

    class StrictComm(MPI.Intracomm):
        pass

    for plain, sync in swaps.items():
        setattr(StrictComm, plain, getattr(MPI.Intracomm, sync))
    strict = StrictComm(world)
    MPI.COMM_WORLD = strict


def finalize() -> None:
    from mpi4py import MPI

    if MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.Finalize()
