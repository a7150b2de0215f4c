"""The Celery worker harness on real workers: each check catches its bug and passes its
correct twin (result.get() inside a task, state in module globals, canvas kinds, a killed
pool process lost or redelivered), and the student's own broker and eager mode are replaced."""

from __future__ import annotations

import textwrap
import time

import pytest

from grader.course import Limits
from grader.judge.expect_celery import (
    canvas_step,
    celery_fault,
    celery_run,
    expect_no_sync_get,
    expect_step,
    expect_steps,
    expect_survives_worker_loss,
    task_step,
)
from grader.judge.proxy import Student
from grader.judge.verdicts import Failed, StudentError
from grader.sandbox.local import LocalBackend

SOURCE = """
    from celery import Celery, chain, chord, group

    app = Celery("tasks", broker="redis://nowhere.invalid:6379/0")
    app.conf.task_always_eager = True          # the harness must ignore this
    SAFE = {"acks_late": True, "reject_on_worker_lost": True}
    _current = {"x": 0}

    @app.task
    def add(x, y):
        return x + y

    @app.task
    def mul(x, y):
        return x * y

    @app.task
    def xsum(values):
        return sum(values)

    @app.task
    def xsum_waiting(values):                  # result.get() inside a task, guard "disabled"
        total = 0
        for v in values:
            total = add.delay(total, v).get(disable_sync_subtasks=False)
        return total

    @app.task
    def xsum_unguarded(values):                # puts Celery's own get() back, then waits
        import celery.result
        celery.result.AsyncResult.get = celery.result.AsyncResult.get.__wrapped__
        return sum(add.delay(0, v).get(disable_sync_subtasks=False) for v in values)

    @app.task
    def times_current(y):
        return y * _current["x"]

    @app.task
    def ran_eagerly():
        return ran_eagerly.request.is_eager

    @app.task(**SAFE)
    def add_safe(x, y):
        return x + y

    def sum_of_squares(xs):
        return chord((mul.s(x, x) for x in xs), xsum.s())

    def squares_group(xs):
        return group(mul.s(x, x) for x in xs)

    def squares_fixed_body(xs):                # the body ignores the header's results
        return chord((mul.s(x, x) for x in xs), xsum.si([x * x for x in xs]))

    def pipeline(x):                           # (x + 4) * x
        return chain(add.s(x, 4), mul.s(x))

    def pipeline_global(x):                    # the same, with x kept in a module global
        _current["x"] = x
        return chain(add.s(x, 4), times_current.s())

    def pipeline_fixed_link(x):                # mul ignores add's result
        return chain(add.s(x, 4), mul.si(x + 4, x))

    def squares_raising(xs):                   # raises while it builds the chord
        return chord((mul.s(x, x) for x in xs), xsum_missing.s())
"""

STEPS = [
    task_step("add", 2, 3, expect=5),
    task_step("xsum", [1, 2, 3], expect=6),
    task_step("xsum_waiting", [1, 2, 3], expect=6),
    canvas_step("sum_of_squares", [1, 2, 3], kind="chord", expect=14),
    canvas_step("squares_group", [1, 2, 3], kind="chord", expect=14),
    canvas_step(
        "squares_fixed_body",
        [1, 2, 3],
        kind="chord",
        expect=14,
        tasks=[[("mul", [1, 1]), ("mul", [2, 2]), ("mul", [3, 3])], [("xsum", [[1, 4, 9]])]],
    ),
    canvas_step("pipeline", 5, kind="chain", expect=45),
    canvas_step("pipeline_global", 5, kind="chain", expect=45),
    canvas_step(
        "pipeline_fixed_link",
        5,
        kind="chain",
        expect=45,
        tasks=[[("add", [5, 4])], [("mul", [9, 5])]],
    ),
    canvas_step("squares_raising", [1, 2], kind="chord", expect=5),
    task_step("ran_eagerly", expect=False),
]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    folder = tmp_path_factory.mktemp("celery")
    (folder / "tasks.py").write_text(textwrap.dedent(SOURCE))
    limits = Limits(wall_seconds=30)
    with LocalBackend().open(folder, limits) as session:
        yield Student(session=session, module="tasks", timeout=30, limits=limits.__dict__)


def _by_step(report, name):
    return next(i for i, s in enumerate(report.steps) if (s.get("task") or s.get("canvas")) == name)


def test_functional_worker_runs_tasks_and_canvases(student):
    report = celery_run(student, "functional", STEPS)
    expect_steps(report, only=("add", "xsum", "sum_of_squares", "pipeline", "pipeline_global"))
    kinds = {o["step"]: o.get("canvas") for o in report.outcomes}
    assert kinds["sum_of_squares"] == "chord" and kinds["squares_group"] == "group"
    expect_step(report, _by_step(report, "ran_eagerly"))
    assert report["eager_was_set"] and "nowhere.invalid" in report["broker_was"]


def test_wrong_canvas_kind_is_named(student):
    report = celery_run(student, "functional", STEPS)
    with pytest.raises(Failed, match="returned a group, expected a chord"):
        expect_step(report, _by_step(report, "squares_group"))


def test_a_chord_body_that_ignores_the_header_is_named(student):
    """The same tasks, numbers and order as a right chord: only the body as built (immutable,
    its values fixed by the caller) shows that the header's results are thrown away."""
    report = celery_run(student, "functional", STEPS)
    assert report.outcomes[_by_step(report, "sum_of_squares")]["chord_body"]["immutable"] is False
    with pytest.raises(Failed, match=r"immutable signature xsum\.si\(\[1, 4, 9\]\)"):
        expect_step(report, _by_step(report, "squares_fixed_body"))


def test_a_chain_step_that_ignores_the_previous_result_is_named(student):
    """The same tasks, numbers and order as the right chain: only the second step as built
    (immutable, its arguments fixed by the caller) shows that add's result is thrown away."""
    report = celery_run(student, "functional", STEPS)
    assert report.outcomes[_by_step(report, "pipeline")]["chain_links"][0]["immutable"] is False
    with pytest.raises(Failed, match=r"immutable step mul\.si\(9, 5\)"):
        expect_step(report, _by_step(report, "pipeline_fixed_link"))


def test_a_canvas_function_that_raises_is_named_by_its_exception(student):
    report = celery_run(student, "functional", STEPS)
    with pytest.raises(StudentError, match="NameError: name 'xsum_missing' is not defined"):
        expect_step(report, _by_step(report, "squares_raising"))


def test_result_get_inside_a_task_is_caught_even_when_disabled(student):
    report = celery_run(student, "functional", STEPS)
    assert {c["task"] for c in report["sync_get"]} == {"tasks.xsum_waiting"}
    assert "disable_sync_subtasks=False" in report["sync_get"][0]["code"]
    with pytest.raises(Failed, match=r"Never call result.get\(\) within a task"):
        expect_step(report, _by_step(report, "xsum_waiting"))
    with pytest.raises(Failed, match="xsum_waiting"):
        expect_no_sync_get(report)


def test_removing_the_guard_is_caught(student):
    report = celery_run(student, "functional", [task_step("xsum_unguarded", [1, 2], expect=3)])
    assert any(c.get("tampered") for c in report["sync_get"])
    with pytest.raises(Failed, match="switched off the grader's check"):
        expect_no_sync_get(report)


def test_prefork_worker_exposes_state_in_globals(student):
    report = celery_run(student, "isolation", STEPS)
    expect_steps(report, only=("add", "xsum", "sum_of_squares", "pipeline"))
    with pytest.raises(Failed, match="module global _current"):
        expect_step(report, _by_step(report, "pipeline_global"))
    expect_step(report, _by_step(report, "ran_eagerly"))
    assert {c["task"] for c in report["sync_get"]} == {"tasks.xsum_waiting"}


def test_killed_pool_process_lost_or_redelivered(student):
    report = celery_fault(student, {"add": [2, 3], "add_safe": [4, 5]})
    runs = {r["task"]: r for r in report["runs"]}
    assert runs["add"]["outcome"] == "lost" and runs["add"]["error"]["type"] == "WorkerLostError"
    assert runs["add_safe"]["outcome"] == "completed" and runs["add_safe"]["value"] == 9
    assert runs["add"]["killed_pid"] != runs["add_safe"]["killed_pid"]
    with pytest.raises(Failed, match="Task add was lost"):
        expect_survives_worker_loss(report)
    expect_survives_worker_loss(celery_fault(student, {"add_safe": [1, 1]}))


def test_a_task_is_recorded_from_its_start(tmp_path):
    """The caller's get() returns once the last result is stored, which can be before the
    worker sends task_postrun: a task must be in the log from its start, or a correct chain's
    last task is missing from what the judge sees (a false "other tasks" verdict)."""
    from celery import signals

    from grader.checks.celery_worker import _tasks_by_step, install_task_log

    class Mul:
        name = "tasks.mul"

    prerun, postrun = install_task_log(str(tmp_path))
    try:
        window = {"t0": time.monotonic()}
        signals.task_prerun.send(sender=Mul, task_id="t-1", task=Mul, args=(2, -2), kwargs={})
        window["t1"] = time.monotonic()
        outcomes = [dict(window)]
        _tasks_by_step(str(tmp_path), outcomes)
        assert outcomes[0]["tasks"] == [
            {"task": "mul", "args": [2, -2], "kwargs": {}, "result": None, "state": "STARTED"}
        ]
        signals.task_postrun.send(sender=Mul, task_id="t-1", task=Mul, retval=-4, state="SUCCESS")
        outcomes = [dict(window)]
        _tasks_by_step(str(tmp_path), outcomes)
        assert outcomes[0]["tasks"][0]["result"] == -4
        assert outcomes[0]["tasks"][0]["state"] == "SUCCESS"
    finally:
        signals.task_prerun.disconnect(prerun)
        signals.task_postrun.disconnect(postrun)
