"""Reference solution for mp_queue_fibonacci."""

import multiprocessing

_CTX = multiprocessing.get_context("spawn")  # the same on Linux as on macOS and Windows

SENTINEL = None  # "no more work": one per consumer


def fib(n):
    """The n-th Fibonacci number (fib(0) = 0, fib(1) = 1), computed iteratively."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def consumer(tasks, results):
    """Take values until a sentinel arrives; put (n, fib(n)) for each on the result queue."""
    while True:
        n = tasks.get()
        if n is SENTINEL:
            break
        results.put((n, fib(n)))


def producer(values, tasks, n_consumers):
    """Put every value, then one sentinel per consumer."""
    for n in values:
        tasks.put(n)
    for _ in range(n_consumers):
        tasks.put(SENTINEL)


def parallel_fib(values, n_consumers):
    """{n: fib(n) for n in values}, computed by n_consumers consumer processes."""
    values = list(values)
    tasks = _CTX.Queue()
    results = _CTX.Queue()
    consumers = [_CTX.Process(target=consumer, args=(tasks, results))
                 for _ in range(n_consumers)]
    for p in consumers:
        p.start()
    producer(values, tasks, n_consumers)
    out = {}
    for _ in range(len(values)):  # drain the results BEFORE joining: see the README
        n, f = results.get()
        out[n] = f
    for p in consumers:
        p.join()
    return out
