"""Mutant (Event.set() followed by clear(): a worker not yet waiting misses the opening) for throttle_and_gate."""

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
    gate = threading.Event()
    ready = threading.Semaphore(0)
    starts = [None] * n

    def worker(i):
        ready.release()  # "I am here"
        gate.wait()
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for _ in range(n):
        ready.acquire()
    gate.set()  # open the gate...
    gate.clear()  # ...and close it again for next time
    for t in threads:
        t.join()
    return starts
