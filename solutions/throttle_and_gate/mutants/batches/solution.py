"""limited_map starts max_concurrent threads at a time and joins each batch before the next:
the limit is reached, but later calls wait for the slowest call of the batch."""

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
    for k in range(0, len(threads), max_concurrent):
        batch = threads[k:k + max_concurrent]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    return results


def start_together(n, work):
    gate = threading.Barrier(n)
    starts = [None] * n

    def worker(i):
        gate.wait()
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return starts
