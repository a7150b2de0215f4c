"""Exactly len(values) results taken with get() (correct twin)."""
import multiprocessing


def square(tasks, results):
    while True:
        n = tasks.get()
        if n is None:
            return
        results.put((n, n * n))


def run(values, n_consumers):
    tasks, results = multiprocessing.Queue(), multiprocessing.Queue()
    procs = [multiprocessing.Process(target=square, args=(tasks, results))
             for _ in range(n_consumers)]
    for p in procs:
        p.start()
    for v in values:
        tasks.put(v)
    for _ in procs:
        tasks.put(None)
    out = {}
    for _ in values:
        n, sq = results.get()
        out[n] = sq
    for p in procs:
        p.join()
    return out
