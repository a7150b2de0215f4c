"""Standard-mode MPI deadlocks proven from the ranks' wait boards (grader/checks/mpi_calls.py,
grader/agent/mpi_stuck.WaitFor): at once when no rank's blocking call can be matched, never
while a call could still end (a slow partner, a request the student keeps, a long transfer)."""

from __future__ import annotations

import os
import textwrap
from contextlib import ExitStack
from pathlib import Path

import pytest

from conftest import sandbox_student
from grader.agent import mpi_stuck
from grader.agent.mpi_stuck import Board, could_progress
from grader.checks.mpi_setup import WaitBoard as B
from grader.judge import verdicts
from grader.judge.proxy import Student

IN, OUT, DONE = B.IN, B.OUT, B.DONE
ROOT = Path(__file__).resolve().parents[1]
BUGS = ROOT / "tests" / "bugs"


def send(rank, dest, tag=0, state=IN):
    return Board(state, 0, 1, 0, rank, 1, B.SEND, dest, tag, B.NOBODY, 0, 0)


def recv(rank, source, tag=B.ANY, state=IN):
    return Board(state, 0, 1, 0, rank, 1, B.RECV, B.NOBODY, 0, source, tag, 0)


def collective(rank, members, every=True):
    mask = sum(1 << r for r in members)
    return Board(IN, 0, 1, 0, rank, 1, B.ALL_TO_ALL if every else B.COLLECTIVE, -3, 0, -3, 0, mask)


def done(rank):
    return Board(DONE, 0, 1, 0, rank, 1, B.NONE, B.NOBODY, 0, B.NOBODY, 0, 0)


def stuck(*boards) -> bool:
    by_rank = {b.rank: b for b in boards}
    return not any(could_progress(b, by_rank) for b in boards if b.state == IN)


@pytest.mark.parametrize(
    "boards, why",
    [
        ((send(0, 1, 7), send(1, 0, 7)), "both ranks send first"),
        ((recv(0, 1), recv(1, 0)), "both ranks receive first"),
        ((send(0, 1, 7), recv(1, 0, 5)), "the receive waits for another tag"),
        ((send(0, 1), recv(1, 2)), "the receive waits for another rank"),
        ((send(0, 0), done(1)), "a send to itself, nobody receives"),
        ((recv(0, B.ANY), done(1)), "any source, but every other rank returned"),
        ((done(0), collective(1, [0, 1, 2]), collective(2, [0, 1, 2])), "a barrier skipped"),
        ((recv(0, 1), collective(1, [0, 1])), "a barrier against a receive"),
    ],
)
def test_calls_that_can_never_match_are_stuck(boards, why):
    assert stuck(*boards), why


@pytest.mark.parametrize(
    "boards, why",
    [
        ((send(0, 1, 7), recv(1, 0, 7)), "a send and its receive"),
        ((send(0, 1, 7), recv(1, B.ANY, B.ANY)), "wildcards"),
        ((send(0, 1, 7), recv(1, B.UNKNOWN, 7)), "a source not known"),
        ((send(0, B.UNKNOWN), recv(1, 0, 0)), "a destination not known"),
        ((send(0, 1, B.UNKNOWN), recv(1, 0, 3)), "a tag not known"),
        (
            (Board(IN, 0, 1, 0, 0, 1, B.SENDRECV, 0, 4, 0, 4, 0), done(1)),
            "a Sendrecv with itself",
        ),
        ((collective(0, [0, 1, 2], every=False), collective(1, [0, 1, 2]), send(2, 0)), "bcast"),
        ((collective(0, [0, 1]), collective(1, [0, 1])), "every rank in the barrier"),
        ((collective(0, [0]), done(1)), "a communicator of one"),
        ((Board(IN, 0, 1, 0, 0, 1, B.NONE, -3, 0, -3, 0, 0), recv(1, 0)), "a call not known"),
    ],
)
def test_calls_that_could_still_match_are_not_stuck(boards, why):
    assert not stuck(*boards), why


# ---------------------------------------------------------------- WaitFor: two looks


def _write(outdir: Path, pid: int, board: Board, torn: bool = False) -> None:
    call_again = board.call + 1 if torn else board.call
    (outdir / f"mpi-wait-{pid}.bin").write_bytes(B.RECORD.pack(B.MAGIC, *board, call_again))


def _two_pids() -> list[tuple[int, int]]:
    """(pid, tid) of the main threads of two processes that exist: this one and its parent."""
    return [(os.getpid(), os.getpid()), (os.getppid(), os.getppid())]


def _both_send():
    return {0: send(0, 1, 7), 1: send(1, 0, 7)}


def _looks(tmp_path, looks, min_cpu=0.0, torn_last=False):
    """WaitFor's word after these looks ([{rank: Board}]), each rank's board in the file of a
    real process (`_two_pids`) whose thread's CPU time the watch reads."""
    pids = _two_pids()
    watch = mpi_stuck.WaitFor(str(tmp_path), len(looks[0]), hold=0.0, min_cpu=min_cpu)
    proof = None
    for i, look in enumerate(looks):
        for rank, board in look.items():
            pid, tid = pids[rank]
            _write(tmp_path, pid, board._replace(tid=tid), torn_last and i == len(looks) - 1)
        proof = watch.check()
    return proof


def test_two_looks_at_ranks_that_can_never_match_prove_a_deadlock(tmp_path):
    proof = _looks(tmp_path, [_both_send()] * 2)
    assert proof is not None and proof["kind"] == "mpi" and proof["waiting"] == 2
    assert proof["busy"] is True  # the ranks poll: the stall is measured as for a timeout


def test_a_rank_without_a_board_proves_nothing(tmp_path):
    me = os.getpid()
    watch = mpi_stuck.WaitFor(str(tmp_path), 2, hold=0.0, min_cpu=0.0)
    for _ in range(2):
        _write(tmp_path, me, send(0, 1, 7)._replace(tid=me))
        assert watch.check() is None


@pytest.mark.parametrize(
    "second, why",
    [
        ({0: send(0, 1, 7), 1: send(1, 0, 7, state=OUT)}, "a rank left its call"),
        ({0: send(0, 1, 7), 1: send(1, 0, 7)._replace(call=2)}, "a rank is in another call"),
        ({0: send(0, 1, 7), 1: send(1, 0, 7)._replace(extra=1)}, "a rank has another thread"),
        ({0: send(0, 1, 7), 1: send(1, 0, 7)._replace(extra=1 << 20)}, "a kept request"),
        ({0: send(0, 1, 7), 1: recv(1, 0, 7)}, "a rank now receives"),
        ({0: send(0, 1, 7), 1: send(1, 0, 7)._replace(rank=0)}, "two boards say rank 0"),
    ],
)
def test_boards_that_moved_or_could_match_prove_nothing(tmp_path, second, why):
    assert _looks(tmp_path, [_both_send(), second]) is None, why
    if why not in ("a rank left its call", "a rank is in another call"):  # not even held
        assert _looks(tmp_path, [second] * 3) is None, why


def test_a_rank_that_did_not_run_between_the_looks_proves_nothing(tmp_path):
    """MPICH polls inside the call: until each waiting thread has run `min_cpu` seconds, a
    message already on its way might still match."""
    assert _looks(tmp_path, [_both_send()] * 3, min_cpu=1000.0) is None


def test_a_board_read_while_it_was_rewritten_proves_nothing(tmp_path):
    assert _looks(tmp_path, [_both_send()] * 2, torn_last=True) is None


# ---------------------------------------------------------------- real runs (mpiexec)


def _exchange(module, *args):
    from mpi4py import MPI

    return module.run(MPI.COMM_WORLD, *args)


SLOW_PARTNER = '''
import time
import numpy as np


def run(comm, n):
    """Rank 0 sends a big message first; rank 1 computes for a while, then receives: slow,
    not dead."""
    partner = comm.rank ^ 1
    data, got = np.full(n, comm.rank, dtype="d"), np.empty(n, dtype="d")
    if comm.rank == 0:
        comm.Send(data, dest=partner)
        comm.Recv(got, source=partner)
    else:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            pass
        comm.Recv(got, source=partner)
        comm.Send(data, dest=partner)
    return float(got[0])
'''

KEPT_REQUEST = '''
import numpy as np


def run(comm, n):
    """Both ranks send first, but each has posted its receive before: correct."""
    partner = comm.rank ^ 1
    data, got = np.full(n, comm.rank, dtype="d"), np.empty(n, dtype="d")
    request = comm.Irecv(got, source=partner)
    comm.Send(data, dest=partner)
    request.Wait()
    return float(got[0])
'''


def _student(folder: Path, source: str, stack) -> Student:
    """A local-backend session for this source (tests/test_deadlock_proof.py's helper)."""
    from test_deadlock_proof import _student as student_of

    code = folder.with_name(folder.name + ".py")
    code.write_text(source)
    return student_of(folder, code, stack)


BIG = 1_000_000  # float64: 8 MB, far above MPICH's eager limit


@pytest.mark.slow
def test_a_big_send_send_in_standard_mode_is_proven_with_the_timeout_paths_message(tmp_path):
    """Hank's mistake (sample_class): 8 MB sent first by both ranks, without strict mode. It
    used to wait out its timeout; proven now, with the verdict and message of the run that
    waited."""
    from grader.judge.expect_mpi import mpi_hang_verdict

    pytest.importorskip("mpi4py")
    with ExitStack() as stack:
        student = _student(tmp_path / "s", (BUGS / "mpi_send_send" / "bug.py").read_text(), stack)
        proven = student.reply(_exchange, BIG, ranks=2, mpi={"strict": False}, timeout=4)
        call = student.session.call
        student.session.call = lambda request: call({**request, "prove_deadlock": False})
        waited = student.reply(_exchange, BIG, ranks=2, mpi={"strict": False}, timeout=4)
    assert proven.raw["deadlock_proof"]["kind"] == "mpi", proven.raw.get("message")
    assert proven.raw["wall"] < 2.0 and waited.raw["wall"] >= 4.0
    messages = []
    for reply in (proven, waited):
        with pytest.raises(verdicts.Deadlock) as caught:
            mpi_hang_verdict(reply, 2, False)
        messages.append(caught.value.message.replace(reply.waited, "N s"))
        assert "comm.Send(data, dest=partner)" in messages[-1]
    assert messages[0] == messages[1]


@pytest.mark.slow
@pytest.mark.parametrize("source", [SLOW_PARTNER, KEPT_REQUEST], ids=["slow", "kept_request"])
def test_a_big_send_that_will_be_received_is_never_proven_dead(tmp_path, source):
    """The honest twins: a send whose partner receives after computing for a second, and a
    send whose partner's receive was posted before (a request it keeps) both pass."""
    pytest.importorskip("mpi4py")
    with ExitStack() as stack:
        student = _student(tmp_path / "s", textwrap.dedent(source), stack)
        for _ in range(2):
            reply = student.reply(_exchange, BIG, ranks=2, mpi={"strict": False}, timeout=6)
            assert reply.status == "ok", (reply.raw.get("message"), reply.raw.get("stderr"))
            assert "deadlock_proof" not in reply.raw
            assert reply.value == [1.0, 0.0]


@pytest.mark.slow
def test_a_skipped_barrier_in_standard_mode_is_proven(tmp_path):
    """Rank 0 returns without the barrier the others wait in: no barrier can end."""
    pytest.importorskip("mpi4py")
    with ExitStack() as stack:
        bug = (BUGS / "mpi_barrier_skipped" / "bug.py").read_text()
        reply = _student(tmp_path / "s", bug, stack).reply(
            _exchange, ranks=3, mpi={"strict": False}, timeout=4
        )
        twin = (BUGS / "mpi_barrier_skipped" / "twin.py").read_text()
        ok = _student(tmp_path / "t", twin, stack).reply(
            _exchange, ranks=3, mpi={"strict": False}, timeout=4
        )
    assert reply.raw["deadlock_proof"]["returned"] == 1 and reply.raw["wall"] < 3.0
    assert ok.status == "ok" and "deadlock_proof" not in ok.raw


@pytest.mark.slow
def test_on_docker_hanks_big_send_send_is_proven(docker_backend, tmp_path):
    """In the real sandbox (ranks as the student's uid, the supervisor reading their boards
    and their threads' CPU time from /proc)."""
    source = (BUGS / "mpi_send_send" / "bug.py").read_text()
    with sandbox_student(docker_backend, tmp_path / "s", source) as student:
        reply = student.reply(_exchange, BIG, ranks=2, mpi={"strict": False}, timeout=4)
    assert reply.raw.get("deadlock_proof", {}).get("kind") == "mpi", reply.raw.get("message")
    assert reply.raw["wall"] < 4.0
