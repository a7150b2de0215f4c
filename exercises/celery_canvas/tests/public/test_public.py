"""Public tests for celery_canvas: run them with `grader check celery_canvas`.

They run your tasks on a real Celery worker (in-process, in memory), as the grader does."""

from grader.testing import canvas_step, celery_run, expect_steps, requirement, task_step

STEPS = [
    task_step("add", 1, 2, expect=3),
    task_step("mul", 3, 4, expect=12),
    task_step("xsum", [1, 2, 3], expect=6),
    canvas_step("sum_of_squares", [1, 2], kind="chord", expect=5),
    canvas_step("pipeline", 1, kind="chain", expect=5),
]


@requirement("values")
def test_tasks(student):
    """add, mul and xsum on a worker"""
    expect_steps(celery_run(student, "functional", STEPS), only=("add", "mul", "xsum"))


@requirement("chord", "chain")
def test_canvases(student):
    """sum_of_squares is a chord and pipeline a chain, with the right values"""
    expect_steps(celery_run(student, "functional", STEPS), only=("sum_of_squares", "pipeline"))
