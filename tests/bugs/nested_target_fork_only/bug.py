"""The target is a function defined inside run(): fine under fork, but spawn must find it by
name and cannot pickle it."""
import multiprocessing


def run(values):
    ctx = multiprocessing.get_context()
    results = ctx.Queue()

    def square(v, q):
        q.put(v * v)

    procs = [ctx.Process(target=square, args=(v, results)) for v in values]
    for p in procs:
        p.start()
    out = sorted(results.get() for _ in values)
    for p in procs:
        p.join()
    return out
