"""Mutant (notify_all() may come before the workers wait(): a lost wake-up) for throttle_and_gate."""

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
    gate = threading.Condition()
    starts = [None] * n

    def worker(i):
        with gate:
            gate.wait()
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    with gate:
        gate.notify_all()  # workers not yet in wait() miss this: a lost wake-up
    for t in threads:
        t.join()
    return starts
