"""Mutant: sum_of_squares has one mul per distinct x (sorted(set(xs))): a repeated x is counted once."""

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
    return chord([mul.s(x, x) for x in sorted(set(xs))], xsum.s())


def pipeline(x):
    """A chain that computes (x + 4) * x: add, then mul (the partial mul.s(x))."""
    return chain(add.s(x, 4), mul.s(x))
