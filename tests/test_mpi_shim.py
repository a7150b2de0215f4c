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

    def _busy(seconds):
        import time
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
        return 1.0

    class _Busy:                             # computes while mpi4py pickles it
        def __reduce__(self):
            return (float, (_busy(0.3),))

    def computing_in_pickle(comm):
        return comm.allgather(_Busy())[0]

    def waiting_for_a_busy_rank(comm):      # rank 0 waits in Recv while rank 1 computes
        if comm.rank == 1:
            _busy(0.3)
            comm.send(1, dest=0)
        elif comm.rank == 0:
            comm.recv(source=1)
        comm.Barrier()

    def user_op(comm):                       # code MPI calls back: nothing excused after it
        op = MPI.Op.Create(lambda a, b, datatype: b, commute=True)
        comm.allreduce(1, op=op)
        waiting_for_a_busy_rank(comm)
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


def _waited(mod, name):
    import resource
    from mpi4py import MPI
    from grader.checks import mpi_shim

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    waited, spent = mpi_shim.cpu_inside(), cpu()
    getattr(mod, name)(MPI.COMM_WORLD)
    return [cpu() - spent, mpi_shim.cpu_inside() - waited]
"""


def run(session, probe, args, strict):
    """Each rank's value of `probe(mod, *args)` on 3 ranks."""
    reply = session.call(
        {
            "kind": "run",
            "module": "solution",
            "timeout": 20,
            "ranks": 3,
            "probe": {"source": PROBE, "name": probe},
            "args": codec.encode(args),
            "mpi": {"strict": strict},
        }
    )
    assert [r["status"] for r in reply["ranks"]] == ["ok"] * 3, reply
    return [codec.decode(r["value"]) for r in reply["ranks"]]


def call(session, name, refuse=False, strict=False):
    return run(session, "_probe", [name, refuse], strict)


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


def cpu_waited(session, name, strict):
    return run(session, "_waited", [name], strict)


@pytest.mark.parametrize("strict", [False, True])
def test_code_run_inside_an_mpi_call_is_not_waiting(session, strict):
    """tests/attacks/mpi_whole_sum_in_pickle: the work done while mpi4py pickles an object"""
    for spent, waited in cpu_waited(session, "computing_in_pickle", strict):
        assert spent - waited >= 0.29, (spent, waited)  # all 0.3 s charged as computing


@pytest.mark.parametrize("strict", [False, True])
def test_waiting_inside_mpi_calls_is_counted(session, strict):
    (spent, waited), busy, _ = cpu_waited(session, "waiting_for_a_busy_rank", strict)
    assert busy[0] >= 0.3 and busy[1] < 0.1, busy  # computing is not waiting
    assert spent - waited < 0.05, (spent, waited)  # rank 0 computed nothing: all of it waiting


def test_nothing_is_excused_once_mpi_calls_code_back(session):
    for spent, waited in cpu_waited(session, "user_op", strict=False):
        assert waited == 0, (spent, waited)
