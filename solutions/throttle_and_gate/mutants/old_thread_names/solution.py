"""Mutant (the book's old names (isSet, notifyAll, setDaemon) in a correct gate) for throttle_and_gate."""

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
    arrived = [0]
    lock = threading.Condition()
    starts = [None] * n

    def worker(i):
        with lock:
            arrived[0] += 1
            if arrived[0] == n:
                gate.set()
                lock.notifyAll()
        while not gate.isSet():
            gate.wait()
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.setDaemon(False)
        t.start()
    for t in threads:
        t.join()
    return starts
