"""start_together with a Condition taken through acquire()/release(), opened as soon as the
threads are started (the opens_before_ready bug); limited_map as the reference."""

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
    cond = threading.Condition()
    state = {"open": False}
    starts = [None] * n

    def worker(i):
        cond.acquire()
        try:
            while not state["open"]:
                cond.wait()
        finally:
            cond.release()
        starts[i] = time.perf_counter()
        work(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    cond.acquire()
    try:
        state["open"] = True  # opened once started, not once every worker waits
        cond.notify_all()
    finally:
        cond.release()
    for t in threads:
        t.join()
    return starts
