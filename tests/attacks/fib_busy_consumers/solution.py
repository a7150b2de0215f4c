"""The compute_in_parent mutant (the parent computes every fib(n); the consumers only pass the
values back), whose consumers burn CPU in a loop of their own after the last value: the test
credits the consumers with every CPU-second of the processes other than the caller, work or not."""

import multiprocessing
import time

SENTINEL = None


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def consumer(tasks, results):
    while True:
        n = tasks.get()
        if n is SENTINEL:
            break
        if isinstance(n, tuple):  # ("burn", seconds): the parent's CPU, to be outspent
            end = time.process_time() + n[1]
            while time.process_time() < end:
                pass
            continue
        results.put(n)  # no work done here


def parallel_fib(values, n_consumers):
    values = list(values)
    tasks = multiprocessing.Queue()
    results = multiprocessing.Queue()
    consumers = [multiprocessing.Process(target=consumer, args=(tasks, results))
                 for _ in range(n_consumers)]
    for p in consumers:
        p.start()
    for n in values:
        tasks.put(n)
    t0 = time.process_time()
    out = {}
    for _ in range(len(values)):
        n = results.get()
        out[n] = fib(n)  # the work happens in the parent
    spent = time.process_time() - t0
    for _ in range(n_consumers):
        tasks.put(("burn", 1.5 * spent / n_consumers + 0.02))
    for _ in range(n_consumers):
        tasks.put(SENTINEL)
    for p in consumers:
        p.join()
    return out
