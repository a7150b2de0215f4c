"""MPI checks under a real mpiexec: forced match orders for ANY_SOURCE receives, and ranks
that disagree on a collective."""

from __future__ import annotations

import pytest

from grader.agent import codec

SOURCE = """
    from mpi4py import MPI

    def gather_in_arrival_order(comm):      # assumes the i-th message came from rank i+1
        if comm.rank == 0:
            return [comm.recv(source=MPI.ANY_SOURCE) for _ in range(comm.size - 1)]
        comm.send(comm.rank * 10, dest=0)

    def gather_by_source(comm):             # the correct twin: asks who sent each message
        if comm.rank == 0:
            out = [None] * (comm.size - 1)
            for _ in range(comm.size - 1):
                status = MPI.Status()
                value = comm.recv(source=MPI.ANY_SOURCE, status=status)
                out[status.Get_source() - 1] = value
            return out
        comm.send(comm.rank * 10, dest=0)

    def mismatched_collectives(comm):       # rank 0 broadcasts, the others reduce
        if comm.rank == 0:
            return comm.bcast(5, root=0)
        return comm.reduce(comm.rank, root=0)

    def different_roots(comm):
        return comm.bcast(comm.rank, root=comm.rank % 2)

    def agreeing_collectives(comm):         # the correct twin
        cart = comm.Create_cart([comm.size], periods=[True])
        total = cart.allreduce(comm.rank)
        comm.Barrier()
        return comm.bcast(total, root=comm.size - 1)
"""

PROBE = """
def _probe(mod, name):
    from mpi4py import MPI
    return getattr(mod, name)(MPI.COMM_WORLD)
"""


def root_value(session, name, mpi):
    reply = session.call(
        {
            "kind": "run",
            "module": "solution",
            "timeout": 30,
            "ranks": 4,
            "probe": {"source": PROBE, "name": "_probe"},
            "args": codec.encode([name]),
            "mpi": mpi,
        }
    )
    assert reply["status"] == "ok", reply
    return codec.decode(reply["value"])[0]


@pytest.mark.parametrize(
    "order",
    [{"order": "reverse"}, {"order": "seeded", "seed": 7}, {"order": "reverse", "strict": True}],
)
def test_forced_order_exposes_it(session, order):
    assert root_value(session, "gather_in_arrival_order", order) != [10, 20, 30]


@pytest.mark.parametrize(
    "order",
    [{"order": "reverse"}, {"order": "seeded", "seed": 7}, {"order": "reverse", "strict": True}],
)
def test_correct_twin_passes_in_any_order(session, order):
    assert root_value(session, "gather_by_source", order) == [10, 20, 30]


def strict_reply(session, name):
    return session.call(
        {
            "kind": "run",
            "module": "solution",
            "timeout": 20,
            "ranks": 3,
            "probe": {"source": PROBE, "name": "_probe"},
            "args": codec.encode([name]),
            "mpi": {"strict": True},
        }
    )


@pytest.mark.parametrize(
    "name, says",
    [
        ("mismatched_collectives", "rank 0 called bcast(root=0), rank 1 called reduce(root=0)"),
        ("different_roots", "rank 0 called bcast(root=0), rank 1 called bcast(root=1)"),
    ],
)
def test_ranks_disagreeing_on_a_collective_get_a_clean_error(session, name, says):
    reply = strict_reply(session, name)
    assert reply["status"] == "exception", reply  # every rank returned, none hung
    for rank in reply["ranks"]:
        assert rank["status"] == "exception", rank
        assert rank["exception"]["type"] == "CollectiveMismatch"
        assert says in rank["exception"]["message"]
        assert any(f["student"] for f in rank["exception"]["frames"])


def test_agreeing_collectives_pass_strict_mode(session):
    reply = strict_reply(session, "agreeing_collectives")
    assert [r["status"] for r in reply["ranks"]] == ["ok"] * 3, reply
    assert [codec.decode(r["value"]) for r in reply["ranks"]] == [3, 3, 3]
