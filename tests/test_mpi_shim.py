"""The MPI library preloaded below Python (grader/checks/mpi_strict.c), through the probes'
controls (grader.checks.mpi_shim): collectives refused and send destinations recorded whatever
Python object makes the call -- the extension type's unbound method, a communicator rebuilt
from it, a derived communicator -- in strict mode and out of it (tests/attacks/
mpi_ring_collective_base_class)."""

from __future__ import annotations

import pytest

from grader.agent import codec

SOURCE = """
    import numpy as np
    from mpi4py import MPI

    def base_class_collectives(comm):      # past any Python subclass of the communicator
        base = MPI.Intracomm
        calls = {
            "allreduce": lambda: base.allreduce(comm, 1, op=MPI.SUM),
            "Allreduce": lambda: base.Allreduce(comm, np.ones(2), np.empty(2)),
            "Barrier": lambda: MPI.Comm.Barrier(comm),
            "Ibcast": lambda: base.Ibcast(comm, np.ones(2)).Wait(),
            "Win": lambda: MPI.Win.Create(np.zeros(2), comm=comm),
        }
        errors = {}
        for name, call in calls.items():
            try:
                call()
                errors[name] = None
            except Exception as e:                # caught: the probe must still see it
                errors[name] = str(e)
        return errors

    def allreduce(comm):
        return MPI.Intracomm.allreduce(comm, comm.rank)

    def sends(comm):                        # rank r sends to r+1 three ways; rank 0 also to 2
        size, rank = comm.Get_size(), comm.Get_rank()
        right, left = (rank + 1) % size, (rank - 1) % size
        data, got = np.full(4, rank, "i8"), np.empty(4, "i8")
        MPI.Comm.Sendrecv(comm, data, dest=right, recvbuf=got, source=left)
        if rank == 0:
            MPI.Comm.Send(MPI.Intracomm(comm), data, dest=2)
        if rank == 2:
            MPI.Comm.Recv(comm, got, source=0)
        reversed_ranks = comm.Split(0, size - rank)   # its rank k is COMM_WORLD's size-1-k
        if rank == size - 1:
            MPI.Comm.send(reversed_ranks, "x", dest=size - 1)   # to COMM_WORLD rank 0
        if rank == 0:
            MPI.Comm.recv(reversed_ranks, source=0)
        MPI.Comm.Send(comm, data, dest=MPI.PROC_NULL)
        return None
"""

PROBE = """
def _probe(mod, name, refuse):
    from contextlib import ExitStack
    from mpi4py import MPI
    from grader.checks import mpi_shim

    with ExitStack() as stack:
        refused = stack.enter_context(mpi_shim.collectives_refused()) if refuse else None
        sent_to = stack.enter_context(mpi_shim.sends_recorded())
        value = getattr(mod, name)(MPI.COMM_WORLD)
    return {"value": value, "refused": refused and refused(), "sent_to": sent_to(),
            "after": MPI.COMM_WORLD.allreduce(1)}
"""


def call(session, name, refuse=False, strict=False):
    reply = session.call(
        {
            "kind": "run",
            "module": "solution",
            "timeout": 20,
            "ranks": 3,
            "probe": {"source": PROBE, "name": "_probe"},
            "args": codec.encode([name, refuse]),
            "mpi": {"strict": strict},
        }
    )
    assert [r["status"] for r in reply["ranks"]] == ["ok"] * 3, reply
    return [codec.decode(r["value"]) for r in reply["ranks"]]


@pytest.mark.parametrize("strict", [False, True])
def test_collectives_are_refused_through_the_base_class(session, strict):
    for rank in call(session, "base_class_collectives", refuse=True, strict=strict):
        errors = rank["value"]
        assert all(errors.values()), errors  # every one failed at once, none hung
        assert "MPI_Allreduce is a collective operation" in errors["Allreduce"]
        assert "MPI_Barrier is a collective operation" in errors["Barrier"]
        assert "MPI_Win_create" in errors["Win"]
        assert rank["refused"]  # seen by the probe, though the student caught the errors
        assert rank["after"] == 3  # and allowed again once the student's call returned


def test_collectives_run_when_not_refused(session):
    ranks = call(session, "allreduce")
    assert [r["value"] for r in ranks] == [3, 3, 3]
    assert [r["refused"] for r in ranks] == [None] * 3


@pytest.mark.parametrize("strict", [False, True])
def test_every_send_is_recorded_as_a_comm_world_rank(session, strict):
    ranks = call(session, "sends", strict=strict)
    assert [r["sent_to"] for r in ranks] == [[1, 2], [2], [0]]
