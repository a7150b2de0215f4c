"""limited_map runs the first item itself, in the caller's thread, before starting the others."""

import threading
import time


def limited_map(func, items, max_concurrent):
    items = list(items)
    slots = threading.Semaphore(max_concurrent)
    results = [None] * len(items)

    def call(i, x):
        with slots:
            results[i] = func(x)

    if items:
        results[0] = func(items[0])
    threads = [threading.Thread(target=call, args=(i, x)) for i, x in enumerate(items) if i]
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
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return starts
