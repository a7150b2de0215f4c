"""Celery: pipeline keeps x in a module global for the chain's second task. Eager mode (one
process) hides it; on a prefork worker the task's process never saw the caller's global."""

from celery import Celery, chain, chord

app = Celery("tasks", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")

# Pure tasks: running one twice is harmless, so a task whose worker process dies goes back
# to the queue (acknowledged only once it has finished).
SAFE = {"acks_late": True, "reject_on_worker_lost": True}


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


_current = {"x": 0}  # the x of the pipeline being built, for its second step


@app.task(**SAFE)
def times_x(y):
    return mul(y, _current["x"])


def pipeline(x):
    """A chain that computes (x + 4) * x: add, then multiply by the x kept in a global."""
    _current["x"] = x
    return chain(add.s(x, 4), times_x.s())
