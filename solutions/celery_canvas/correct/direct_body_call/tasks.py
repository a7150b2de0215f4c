"""A correct solution in which tasks call other tasks' bodies directly: xsum adds with add(...)
and mul is repeated addition through add(...). Calling a task object runs its code in the
current process (no message, no worker): legal, and it must score full marks. The grader's
worker-kill fault acts on deliveries, never on such calls."""

import functools

from celery import Celery, chain, chord

app = Celery("tasks", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")
SAFE = {"acks_late": True, "reject_on_worker_lost": True}


@app.task(**SAFE)
def add(x, y):
    return x + y


@app.task(**SAFE)
def mul(x, y):
    if y < 0:
        return -mul(x, -y)
    return functools.reduce(lambda acc, _: add(acc, x), range(y), 0)


@app.task(**SAFE)
def xsum(values):
    return functools.reduce(add, values, 0)


def sum_of_squares(xs):
    return chord((mul.s(x, x) for x in xs), xsum.s())


def pipeline(x):
    return chain(add.s(x, 4), mul.s(x))
