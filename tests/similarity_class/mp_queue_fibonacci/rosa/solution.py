"""Rosa: the memoised recursion in each process; a results count tells the parent when to stop."""

import functools
import multiprocessing
import sys


@functools.cache
def _fib_rec(n):
    return n if n < 2 else _fib_rec(n - 1) + _fib_rec(n - 2)


def fib(n):
    sys.setrecursionlimit(max(1000, 2 * n + 100))
    # warm the cache bottom-up so deep values do not recurse far
    for i in range(0, n, 200):
        _fib_rec(i)
    return _fib_rec(n)


def consume(queue_in, queue_out):
    while (n := queue_in.get()) is not None:
        queue_out.put((n, fib(n)))


def parallel_fib(values, n_consumers):
    values = list(values)
    queue_in, queue_out = multiprocessing.Queue(), multiprocessing.Queue()
    procs = [multiprocessing.Process(target=consume, args=(queue_in, queue_out))
             for _ in range(max(1, n_consumers))]
    [p.start() for p in procs]
    [queue_in.put(n) for n in values]
    [queue_in.put(None) for _ in procs]
    result = dict(queue_out.get() for _ in values)
    [p.join() for p in procs]
    return result
