"""start_together returns as soon as every worker has recorded its start time, without joining:
the workers are still running their work."""

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
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    while None in starts:
        time.sleep(0.001)
    return starts
