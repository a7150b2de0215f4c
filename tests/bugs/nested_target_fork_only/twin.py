"""A top-level target, found by name under spawn too (correct twin)."""
import multiprocessing


def square(v, q):
    q.put(v * v)


def run(values):
    ctx = multiprocessing.get_context()
    results = ctx.Queue()
    procs = [ctx.Process(target=square, args=(v, results)) for v in values]
    for p in procs:
        p.start()
    out = sorted(results.get() for _ in values)
    for p in procs:
        p.join()
    return out
