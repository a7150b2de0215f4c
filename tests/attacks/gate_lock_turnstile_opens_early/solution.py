"""The opens_before_ready bug with a turnstile made of plain Locks: the gate is a Lock held until the last
worker arrives, each worker passes it (acquire, release) in turn."""

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
    gate, count_lock = threading.Lock(), threading.Lock()
    gate.acquire()  # closed
    arrived = [0]
    starts = [None] * n

    def worker(i):
        gate.acquire()
        gate.release()
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    gate.release()  # opened once started, not once every worker waits
    for t in threads:
        t.join()
    return starts
