"""Hidden tests for mpi_pi."""

import math
import sys
from pathlib import Path

from grader.judge.expect_mpi import mpi_hang_verdict, run_ranks
from grader.testing import Failed, expect_parallel, raise_for, record_evidence, requirement

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from pi_checks import TIMEOUT, _pi, expect_midpoint, pi_on  # noqa: E402

BUSY_SECONDS = 1.2  # CPU-seconds of computing, all ranks together, for the parallelism test
N_BUSY = 4_000_000  # intervals per call in the share test
SHARE_CPU = 0.3  # CPU-seconds of computing the share test aims for on 1 rank (numpy: 40 calls)
SHARE_CALLS = 40  # at most this many calls (pure Python takes one call for as long)


# ---------------------------------------------------------------- probes (run in the sandbox)

def _busy(mod, n, seconds):
    """Call mpi_pi often enough that computing takes about `seconds` of CPU in all ranks
    together."""
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


def _compute(mod, n, target, most):
    """[calls, CPU-seconds this rank spent computing the whole sum on a communicator of its own,
    CPU-seconds it spent computing its share on the communicator of 2 ranks]: in each case the
    CPU of the calls of mpi_pi minus what it spent waiting inside MPI calls that run none of
    its code (sends, receives, waits, collectives with a predefined op: timed below Python by
    grader.checks.mpi_shim, whatever object made the call); its code run inside one (pickling
    an object it sends, a Python op) counts as computing. Both ranks are pinned to one core, so
    they compute one at a time; the whole sums are computed by the two ranks in turn. The two
    kinds of call alternate call by call, so both meet the same conditions (a core shared with other work, its caches,
    a hardware thread's sibling): a load that comes and goes weighs on both alike. As many
    rounds as take about `target` CPU-seconds of whole sums per rank (at least 1, at most
    `most`), judged by the slower rank's call after a warm-up, so slow correct code is not cut
    off."""
    from mpi4py import MPI
    import os
    import resource

    from grader.checks import mpi_shim

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    world = MPI.COMM_WORLD
    control = world.Dup()  # the probe's own messages never mix with the student's
    os.sched_setaffinity(0, {control.allreduce(min(os.sched_getaffinity(0)), op=MPI.MIN)})
    rank = world.Get_rank()
    if mpi_shim.cpu_inside() is None:
        raise RuntimeError("the grader's MPI library (mpi_strict.c) is not loaded: this host "
                           "has no C compiler to build it, so the share cannot be measured")
    alone, shared = MPI.COMM_SELF, world

    def computing(comm):
        waited, t0 = mpi_shim.cpu_inside(), cpu()
        mod.mpi_pi(comm, n)
        return cpu() - t0 - (mpi_shim.cpu_inside() - waited)

    def whole_in_turn():
        if rank == 1:
            control.recv(source=0)  # rank 0 has had its turn
        spent = computing(alone)
        if rank == 0:
            control.send(None, dest=1)
        control.Barrier()
        return spent

    mod.mpi_pi(shared, n)  # warm-up (first calls pay for page faults and imports)
    mod.mpi_pi(alone, n)
    once = control.allreduce(whole_in_turn(), op=MPI.MAX)
    reps = control.bcast(max(1, min(most, int(target / max(once, 1e-4)))), root=0)
    whole = part = 0.0
    for i in range(reps):
        if i % 2:
            part += computing(shared)
            whole += whole_in_turn()
        else:
            whole += whole_in_turn()
            part += computing(shared)
    return [reps, whole, part]


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


@requirement("shared")
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


@requirement("shared")
def test_each_rank_computes_only_its_share(student):
    """Each of 2 ranks computes only its share: not the whole sum on every rank"""
    what = f"mpi_pi(comm, {N_BUSY:,})"
    values = run_ranks(student, _compute, N_BUSY, SHARE_CPU, SHARE_CALLS, ranks=2, strict=True,
                       timeout=TIMEOUT * 5, what=f"{what} on 2 ranks and on 1")
    reps = values[0][0]
    alone, ranks = [v[1] for v in values], [v[2] for v in values]
    record_evidence(calls=reps, compute_on_1_rank=[round(c, 3) for c in alone],
                    compute_per_rank=[round(c, 3) for c in ranks])
    shares = [c / w if w > 0 else 0.0 for c, w in zip(ranks, alone)]
    # A fair share measures about 0.5 to 0.7 of the whole (the caches suffer more when the two
    # ranks take turns within a call); every rank computing everything about 1.0.
    rank = shares.index(max(shares))
    if shares[rank] > 0.85:
        calls = f"{reps} call{'s' if reps > 1 else ''}"
        raise Failed(f"In {calls} of {what} on 2 ranks, rank {rank} spent {ranks[rank]:.2f} "
                     f"CPU-seconds computing (not counting its waits in MPI calls), {shares[rank]:.0%} of what the "
                     f"same calls took it on a communicator of 1 rank ({alone[rank]:.2f}), "
                     "measured in turn with them: it did (nearly) all of the work, not its half. "
                     "Rank r sums only the intervals r * n // size to (r + 1) * n // size; "
                     "computing the whole sum on every rank and dividing the reduced total by the "
                     "rank count gives the right number with no speedup at all.",
                     compute_on_1_rank=alone, compute_per_rank=ranks)
