"""Hidden tests for mpi_pi."""

import math
import sys
from pathlib import Path

from grader.judge.expect_mpi import mpi_hang_verdict
from grader.testing import Failed, expect_parallel, raise_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from pi_checks import TIMEOUT, _pi, expect_midpoint, pi_on  # noqa: E402

BUSY_SECONDS = 1.2  # CPU-seconds of computing, all ranks together, for the parallelism test


# ---------------------------------------------------------------- probes (run in the sandbox)

def _busy(mod, n, seconds):
    """Call mpi_pi often enough that computing takes about `seconds` of CPU in all ranks together."""
    from mpi4py import MPI
    import time

    comm = MPI.COMM_WORLD
    control = comm.Dup()  # the probe's own messages never mix with the student's
    mod.mpi_pi(comm, n)  # warm-up
    t0 = time.process_time()
    mod.mpi_pi(comm, n)
    once = control.allreduce(time.process_time() - t0)  # CPU of one call, all ranks together
    reps = control.bcast(max(1, min(2000, int(seconds / max(once, 1e-4)))), root=0)
    for _ in range(reps):
        result = mod.mpi_pi(comm, n)
    return result


# ---------------------------------------------------------------- tests

def test_same_result_for_any_rank_count(student):
    """1001 intervals on 1, 3 and 4 ranks: the same estimate, whatever the rank count"""
    for ranks in (1, 3, 4):
        expect_midpoint(student, _pi, 1001, ranks=ranks)


def test_error_below_1e_minus_8(student):
    """A million intervals on 3 ranks: within 1e-8 of pi"""
    got, what = pi_on(student, _pi, 1_000_000, ranks=3, strict=False)
    if not abs(got - math.pi) <= 1e-8:
        raise Failed(f"{what}: rank 0 returned {got!r}, {abs(got - math.pi):.2e} away from pi "
                     "(at most 1e-8 expected). The midpoint rule evaluates 4 / (1 + x*x) at "
                     "x = (i + 0.5) * h, the middle of each interval, not at its left end.",
                     expected=repr(math.pi), got=repr(got))


def test_work_is_shared_between_ranks(student):
    """2 ranks really share the work: CPU time measured outside the program"""
    # Strict mode: a rank waiting in a collective sleeps instead of spinning (MPICH busy-polls),
    # so the CPU each rank uses is the work it did.
    reply = student.reply(_busy, 10_000_000, BUSY_SECONDS, ranks=2, timeout=TIMEOUT * 5,
                          mpi={"strict": True}, what="mpi_pi on 2 ranks, called repeatedly")
    if reply.status == "timeout":
        mpi_hang_verdict(reply, 2, strict=True)
    raise_for(reply)
    expect_parallel(reply, "mpi_pi on 2 ranks", workers=2, cores=student.limits["cpus"],
                    hint="Each rank must sum only its own share of the intervals; here one "
                         "rank did (almost) all of them while the other waited in Reduce.")
