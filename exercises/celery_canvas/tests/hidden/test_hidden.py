"""Hidden tests for celery_canvas: everything runs on real Celery workers in the sandbox.

Three sandbox requests in all: one run on an in-process worker (threads pool) shared by the
first four tests, one on a prefork worker in its own process (a fresh pool process per task),
and one in which the pool process each task is delivered to is killed. The canvases are judged
by the tasks the worker ran (which, with which arguments, in which order), not only by their
value.
"""

from grader.testing import (
    canvas_step, celery_fault, celery_run, expect_no_sync_get, expect_steps,
    expect_survives_worker_loss, requirement, task_step,
)

STEPS = [
    task_step("add", 2, 3, expect=5),
    task_step("add", -7, 10, expect=3),
    task_step("mul", 6, 7, expect=42),
    task_step("xsum", [1, 2, 3, 4], expect=10),
    task_step("xsum", [], expect=0),
    canvas_step("sum_of_squares", [1, 2, 3], kind="chord", expect=14,
                tasks=[[("mul", [1, 1]), ("mul", [2, 2]), ("mul", [3, 3])],
                       [("xsum", [[1, 4, 9]])]]),
    canvas_step("sum_of_squares", [4, 5, 6, 7], kind="chord", expect=126),
    canvas_step("sum_of_squares", [3, 1, 3], kind="chord", expect=19,  # one mul per x, repeats too
                tasks=[[("mul", [3, 3]), ("mul", [1, 1]), ("mul", [3, 3])],
                       [("xsum", [[9, 1, 9]])]]),
    canvas_step("pipeline", 5, kind="chain", expect=45,
                tasks=[[("add", [5, 4])], [("mul", [9, 5])]]),
    canvas_step("pipeline", -2, kind="chain", expect=-4,
                tasks=[[("add", [-2, 4])], [("mul", [2, -2])]]),
]
PREFORK_STEPS = [
    task_step("add", 2, 3, expect=5),
    task_step("xsum", [1, 2, 3, 4], expect=10),
    canvas_step("sum_of_squares", [1, 2, 3], kind="chord", expect=14),
    canvas_step("sum_of_squares", [2, 4], kind="chord", expect=20),
    canvas_step("pipeline", 5, kind="chain", expect=45),
    canvas_step("pipeline", 3, kind="chain", expect=21),
]
KILLED = {"add": [2, 3], "mul": [6, 7], "xsum": [[1, 2, 3]]}


@requirement("values")
def test_tasks_on_a_worker(student):
    """add, mul and xsum give the right values on a real worker"""
    expect_steps(celery_run(student, "functional", STEPS), only=("add", "mul", "xsum"))


@requirement("chord", "json-args")
def test_sum_of_squares_is_a_chord(student):
    """sum_of_squares returns a chord that adds up the squares on a worker"""
    expect_steps(celery_run(student, "functional", STEPS), only=("sum_of_squares",))


@requirement("chain", "top-level-tasks")
def test_pipeline_is_a_chain(student):
    """pipeline returns a chain that computes (x + 4) * x on a worker"""
    expect_steps(celery_run(student, "functional", STEPS), only=("pipeline",))


@requirement("no-sync-get")
def test_no_result_get_inside_tasks(student):
    """No task waits for another task's result (result.get() inside a task)"""
    expect_no_sync_get(celery_run(student, "functional", STEPS))


@requirement("no-globals")
def test_correct_on_a_prefork_worker(student):
    """Correct on a prefork worker, each task in its own process (no state in globals)"""
    expect_steps(celery_run(student, "isolation", PREFORK_STEPS))


@requirement("survives-loss")
def test_tasks_survive_a_killed_worker_process(student):
    """A task whose worker process is killed is delivered again and completes"""
    expect_survives_worker_loss(celery_fault(student, KILLED))
