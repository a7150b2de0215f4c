"""start_together records time.perf_counter() after work(i) returns: end times, not start times."""

import threading
import time


def limited_map(func, items, max_concurrent):
    items = list(items)
    slots = threading.Semaphore(max_concurrent)
    results = [None] * len(items)

    def call(i, x):
        with slots:
            results[i] = func(x)

    threads = [threading.Thread(target=call, args=(i, x)) for i, x in enumerate(items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def start_together(n, work):
    gate = threading.Barrier(n)
    starts = [None] * n

    def worker(i):
        gate.wait()
        work(i)
        starts[i] = time.perf_counter()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return starts
