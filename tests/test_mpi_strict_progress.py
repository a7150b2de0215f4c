"""Strict MPI mode never calls a transfer in progress a deadlock.

Strict mode's waits poll MPI (grader/checks/mpi_setup.py `_wait`) and the supervisor proves a
deadlock once every rank has polled, still in the same call, for a while
(grader/agent/mpi_stuck.py). Without CMA (the Docker sandbox), MPICH moves a large message
through shared memory one 8 KB cell per poll: a correct exchange of 8 MB whose ranks polled
between naps was once proven "deadlocked" after 0.6 s. Correct programs with large messages and
nonblocking calls must pass at every size; the same exchange with both sends first must still be
proven at once."""

from __future__ import annotations

import textwrap
from contextlib import ExitStack

import pytest

from conftest import sandbox_student
from grader.sandbox import get_backend

SIZES = [1, 64 * 1024, 1 << 20, 8 << 20, 32 << 20]  # bytes per message

PATTERNS = {
    # the receive posted first, then a blocking (synchronous, in strict mode) send
    "irecv_send_wait": """
        req = comm.Irecv(got, source=partner)
        comm.Send(data, dest=partner)
        req.Wait()
    """,
    "isend_irecv_waitall": """
        reqs = [comm.Isend(data, dest=partner), comm.Irecv(got, source=partner)]
        MPI.Request.Waitall(reqs)
    """,
    "sendrecv": """
        comm.Sendrecv(data, dest=partner, recvbuf=got, source=partner)
    """,
    # rank 0 sends then receives, rank 1 receives then sends: blocking calls that match
    "ordered_send_recv": """
        if comm.rank == 0:
            comm.Send(data, dest=partner)
            comm.Recv(got, source=partner)
        else:
            comm.Recv(got, source=partner)
            comm.Send(data, dest=partner)
    """,
    # a receive still in flight while the rank waits in a collective
    "irecv_isend_barrier_wait": """
        reqs = [comm.Irecv(got, source=partner), comm.Isend(data, dest=partner)]
        comm.Barrier()
        MPI.Request.Waitall(reqs)
    """,
}


def _source(body: str) -> str:
    return (
        "import numpy as np\nfrom mpi4py import MPI\n\n\n"
        "def run(comm, nbytes):\n"
        "    partner = comm.rank ^ 1\n"
        "    n = max(1, nbytes // 4)\n"
        "    data, got = np.full(n, comm.rank + 1, dtype='i'), np.zeros(n, dtype='i')\n"
        + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
        + "\n    return [int(got[0]), int(got[-1]), int(got.size)]\n"
    )


def _exchange(module, *args):
    from mpi4py import MPI

    return module.run(MPI.COMM_WORLD, *args)


def _strict_reply(student, nbytes: int, timeout: float = 20):
    return student.reply(_exchange, nbytes, ranks=2, mpi={"strict": True}, timeout=timeout)


def _passes(reply, nbytes: int) -> None:
    n = max(1, nbytes // 4)
    assert "deadlock_proof" not in reply.raw, (reply.raw["deadlock_proof"], reply.raw["wall"])
    assert reply.status == "ok", reply.raw.get("message")
    assert reply.value == [[2, 2, n], [1, 1, n]]


@pytest.mark.slow
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_correct_exchanges_pass_strict_mode_at_every_size(tmp_path, pattern):
    pytest.importorskip("mpi4py")
    with ExitStack() as stack:
        student = stack.enter_context(
            sandbox_student(get_backend("local"), tmp_path / "s", _source(PATTERNS[pattern]))
        )
        for nbytes in SIZES:
            _passes(_strict_reply(student, nbytes), nbytes)


@pytest.mark.slow
def test_on_docker_an_8_mb_exchange_passes_and_its_send_first_twin_is_proven(
    docker_backend, tmp_path
):
    """The reported false deadlock, in the real sandbox (no CMA: 8 KB per MPI poll)."""
    nbytes = 8 << 20
    with sandbox_student(
        docker_backend, tmp_path / "ok", _source(PATTERNS["irecv_send_wait"])
    ) as student:
        for _ in range(2):
            _passes(_strict_reply(student, nbytes), nbytes)
        _passes(_strict_reply(student, 32 << 20), 32 << 20)
    send_first = """
        comm.Send(data, dest=partner)
        comm.Recv(got, source=partner)
    """
    with sandbox_student(docker_backend, tmp_path / "bug", _source(send_first)) as student:
        reply = _strict_reply(student, nbytes, timeout=6)
    assert reply.raw.get("deadlock_proof", {}).get("kind") == "mpi", reply.raw.get("message")
    assert reply.raw["wall"] < 6.0


class _Request:
    def __init__(self):
        self.done = False

    def Get_status(self):
        return self.done


def test_waits_poll_without_napping_only_while_data_may_move():
    """The credit of an operation in flight is its size over MIN_RATE, spent while polling;
    it ends with the operation, and a buffer of unknown size brings none."""
    import numpy as np

    from grader.checks.mpi_setup import MIN_RATE, InFlight, nbytes

    assert nbytes([np.zeros(10, dtype="i"), "MPI.INT"]) == 40 and nbytes({"a": 1}) == 0
    flight, request = InFlight(), _Request()
    flight.add(request, np.zeros(int(MIN_RATE) // 8))  # one second of credit
    assert flight.spend(0.6) and flight.spend(0.6)  # spent past zero on the second poll
    assert not flight.spend(0.01)
    flight.add(request, np.zeros(int(MIN_RATE) // 8))
    request.done = True
    assert not flight.spend(0.01) and flight.credit == 0 and not flight.requests
    flight.add(_Request(), {"pickled": "object"})
    assert not flight.spend(0.01)
