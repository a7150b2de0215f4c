"""Mutant of celery_canvas: acks_late=True without reject_on_worker_lost=True. The message is
acknowledged late, but when the worker process dies Celery marks the task failed
(WorkerLostError) instead of delivering it again: the failure is recorded, never retried."""

from celery import Celery, chain, chord

app = Celery("tasks", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")

# Acknowledged only once finished, but a task whose worker process dies is not sent again.
SAFE = {"acks_late": True}  # no reject_on_worker_lost: a lost task is recorded as failed


@app.task(**SAFE)
def add(x, y):
    return x + y


@app.task(**SAFE)
def mul(x, y):
    return x * y


@app.task(**SAFE)
def xsum(values):
    return sum(values)


def sum_of_squares(xs):
    """A chord: one mul task per x squares it, then xsum adds the squares up."""
    return chord((mul.s(x, x) for x in xs), xsum.s())


def pipeline(x):
    """A chain that computes (x + 4) * x: add, then mul (the partial mul.s(x))."""
    return chain(add.s(x, 4), mul.s(x))
