"""Consumers stop when `tasks.empty()`: a slow producer has simply not put the next value
yet, the values after it are never computed, and the caller waits for their results."""
import multiprocessing


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def consumer(tasks, results):
    while True:
        if tasks.empty():
            return
        n = tasks.get()
        if n is None:
            return
        results.put((n, fib(n)))


def run(values, n_consumers):
    tasks, results = multiprocessing.Queue(), multiprocessing.Queue()
    procs = [multiprocessing.Process(target=consumer, args=(tasks, results))
             for _ in range(n_consumers)]
    for p in procs:
        p.start()
    for v in values:
        tasks.put(v)
    for _ in procs:
        tasks.put(None)
    out = dict(results.get() for _ in values)
    for p in procs:
        p.join()
    return out
