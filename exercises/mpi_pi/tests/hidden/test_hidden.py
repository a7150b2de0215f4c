"""Hidden tests for mpi_pi."""

import math
import sys
from pathlib import Path

from grader.judge.expect_mpi import mpi_hang_verdict
from grader.testing import (
    Failed, expect_own_share, expect_parallel, raise_for, record_evidence, requirement,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from pi_checks import TIMEOUT, _pi, expect_midpoint, pi_on  # noqa: E402

BUSY_SECONDS = 1.5  # CPU-seconds of computing on 1 rank, for the parallelism tests
N_BUSY = 10_000_000  # intervals per call in those tests


# ---------------------------------------------------------------- probes (run in the sandbox)

def _busy(mod, n, seconds, reps=0):
    """Call mpi_pi `reps` times, or (reps=0) often enough that computing takes about `seconds` of
    CPU in all ranks together; (the last result, the reps). The probe's clock only sizes the
    work: what is judged is the kernel's accounting of every process."""
    from mpi4py import MPI
    import time

    comm = MPI.COMM_WORLD
    control = comm.Dup()  # the probe's own messages never mix with the student's
    mod.mpi_pi(comm, n)  # warm-up
    if not reps:
        t0 = time.process_time()
        mod.mpi_pi(comm, n)
        once = control.allreduce(time.process_time() - t0)  # CPU of one call, all ranks together
        reps = control.bcast(max(1, min(2000, int(seconds / max(once, 1e-4)))), root=0)
    for _ in range(reps):
        result = mod.mpi_pi(comm, n)
    return [result, reps]


# ---------------------------------------------------------------- tests

@requirement("rank-independent")
def test_same_result_for_any_rank_count(student):
    """1001 intervals on 1, 3 and 4 ranks: the same estimate, whatever the rank count"""
    for ranks in (1, 3, 4):
        expect_midpoint(student, _pi, 1001, ranks=ranks)


@requirement("accurate")
def test_error_below_1e_minus_8(student):
    """A million intervals on 3 ranks: within 1e-8 of pi"""
    got, what = pi_on(student, _pi, 1_000_000, ranks=3, strict=False)
    if not abs(got - math.pi) <= 1e-8:
        raise Failed(f"{what}: rank 0 returned {got!r}, {abs(got - math.pi):.2e} away from pi "
                     "(at most 1e-8 expected). The midpoint rule evaluates 4 / (1 + x*x) at "
                     "x = (i + 0.5) * h, the middle of each interval, not at its left end.",
                     expected=repr(math.pi), got=repr(got))


def _busy_on(student, ranks, reps, what, n=N_BUSY):
    # Strict mode: a rank waiting in a collective sleeps instead of spinning (MPICH busy-polls),
    # so the CPU each rank uses is the work it did.
    reply = student.reply(_busy, n, BUSY_SECONDS, reps, ranks=ranks, timeout=TIMEOUT * 5,
                          mpi={"strict": True}, what=what)
    if reply.status == "timeout":
        mpi_hang_verdict(reply, ranks, strict=True)
    raise_for(reply)
    return reply


_RUNS: dict = {}  # id(student) -> the runs both parallelism tests judge


def _busy_runs(student):
    """The same calls of mpi_pi on 1 rank (sized to BUSY_SECONDS of CPU) and on 2 ranks, and
    the same number of calls with 1 interval on 1 and 2 ranks (start-up, messages, waits)."""
    if id(student) not in _RUNS:
        single = _busy_on(student, 1, 0, "mpi_pi on 1 rank, called repeatedly")
        reps = single.value[0][1]
        parallel = _busy_on(student, 2, reps, f"mpi_pi on 2 ranks, called {reps} times")
        idle = (_busy_on(student, 2, reps, f"mpi_pi(comm, 1) on 2 ranks, {reps} times", n=1),
                _busy_on(student, 1, reps, f"mpi_pi(comm, 1) on 1 rank, {reps} times", n=1))
        _RUNS[id(student)] = single, parallel, reps, idle
    return _RUNS[id(student)]


@requirement("shared")
def test_work_is_shared_between_ranks(student):
    """2 ranks really share the work: CPU time measured outside the program"""
    _, reply, _, _ = _busy_runs(student)
    expect_parallel(reply, "mpi_pi on 2 ranks", workers=2, cores=student.limits["cpus"],
                    hint="Each rank must sum only its own share of the intervals; here one "
                         "rank did (almost) all of them while the other waited in Reduce.")


@requirement("shared")
def test_each_rank_computes_only_its_share(student):
    """Each of 2 ranks computes only its share: not the whole sum on every rank"""
    single, reply, reps, idle = _busy_runs(student)
    expect_own_share(reply, single, f"mpi_pi({N_BUSY:,}) called {reps} times on 2 ranks",
                     workers=2, idle=idle, hint="Rank r sums only the intervals r * n // size to "
                     "(r + 1) * n // size; computing the whole sum on every rank and dividing "
                     "the reduced total by the rank count gives the right number with no speedup "
                     "at all.")
    record_evidence(single_cpu=round(single.cpu, 3), span=round(_span(reply), 3),
                    work=round(reply.cpu, 3), idle_span=round(_span(idle[0]), 3),
                    idle_single_cpu=round(idle[1].cpu, 3))


def _span(reply):
    return float(reply.raw.get("span", 0.0))
