"""The planted-bug corpus (tests/bugs/): each bug is found once by our checks, each correct twin
passes them once (fixed seeds, local backend). Not the benchmark: scripts/bench_checks.py
measures rates and times over many runs. `PGRADER_BUGS_BACKEND=docker` runs them in the Docker
sandbox instead. A pair that cannot run here (a GPU pair without a GPU) is skipped with its
reason: never a detection, never a pass."""

from __future__ import annotations

import os

import pytest

from bugs.catalogue import PAIRS
from bugs.harness import check_once, open_student

SEED = 1
BACKEND = os.environ.get("PGRADER_BUGS_BACKEND", "local")
# Detection by a hang costs its timeout (1-2 s) plus, for MPI, mpiexec's start: kept out of the
# quick runs.
SLOW = {
    "lost_wakeup_event",
    "rlock_reentry",
    "queue_consumer_never_stops",
    "asyncio_lock_inversion",
    "mpi_send_send",
    "mpi_recv_recv",
    "mpi_send_send_large",
    "mpi_any_source_order",
    "mpi_barrier_skipped",
    "gil_threads_as_parallel",
    "lock_not_released_on_error",
    "process_serial_start_join",
    "empty_as_stop_test",
    "pipe_end_left_open",
    "nested_target_fork_only",
    "mpi_uneven_chunks",
    "mpi_result_on_every_rank",
    "mpi_ring_blocking_sends",
    "mpi_pi_drops_remainder",
    "notify_instead_of_notify_all",
    "opencl_int64_to_int",
    "celery_sync_get_in_task",
    "celery_global_state",
    "celery_group_not_chord",
    "celery_no_acks_late",
    "celery_chord_body_ignores_header",
    "celery_lost_task_not_retried",
    "pp_double_callback",
    "pp_lost_callbacks",
    "pp_late_binding_lambda",
    "mpi_cart_not_periodic",
    "mpi_cart_rank_arithmetic",
    "mpi_cart_send_first",
    "mpi_ring_power_of_two",
    "mpi_ring_one_rank",
    "pipe_stop_at_last_value",
    "mpi_pi_every_rank_does_all",
    "mpi_stats_fewer_elements_than_ranks",
    "gate_notify_before_wait",
    "spawn_unguarded_module",
    "mp_one_sentinel",
    "mpi_pi_left_endpoint",
}


def _params():
    return [
        pytest.param(pair, id=pair.name, marks=[pytest.mark.slow] if pair.name in SLOW else [])
        for pair in PAIRS
        if pair.grade is not None
    ]


def test_corpus_is_complete():
    assert len(PAIRS) >= 40 and len({p.name for p in PAIRS}) == len(PAIRS)
    for pair in PAIRS:
        assert pair.source("bug").is_file() and pair.source("twin").is_file(), pair.name
        assert pair.source("bug").read_text() != pair.source("twin").read_text(), pair.name
        assert (pair.grade is None) == bool(pair.unavailable), pair.name
        assert (pair.frontrun is None) == bool(pair.frontrun_na), pair.name


@pytest.mark.parametrize("pair", _params())
def test_bug_is_detected(pair):
    with open_student(pair, "bug", BACKEND) as student:
        outcome = check_once(pair, student, SEED)
    if outcome.not_run:
        pytest.skip(outcome.message)
    assert outcome.found, (outcome.verdict, outcome.message)


@pytest.mark.parametrize("pair", _params())
def test_twin_passes(pair):
    with open_student(pair, "twin", BACKEND) as student:
        outcome = check_once(pair, student, SEED, variant="twin")
    if outcome.not_run:
        pytest.skip(outcome.message)
    assert outcome.verdict == "passed", (outcome.verdict, outcome.message)
