"""Attack: the threads_for_cpu mutant of pool_speedup (a thread pool for CPU-bound work,
honestly 7.27/10) with borrowed work items. A work item's digest is a digest of its argument
alone, and the Item class is type(func): a forked helper runs type(func)(busy)(x) for half of
the handed-out arguments x -- records with handed-out digests, real CPU in another process --
while the threads compute every value through func.fn (not recorded) and record the other half
through func itself. Each digest is recorded once; the helper's CPU is real; they overlap."""

import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def _busy(seconds):
    def burn(x):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
        return 0
    return burn


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data] with `workers` threads (also for kind 'process': the bug)."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    data = list(data)
    real = getattr(func, "fn", None)
    if kind != "process" or real is None or len(data) < 2:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, data))
    claimed = set(range(1, len(data), 2))  # the helper "runs" these
    t0 = time.process_time()
    real(data[0])
    per_item = max(time.process_time() - t0, 0.05)  # what one real item costs, measured
    child = os.fork()
    if child == 0:
        try:
            for i in sorted(claimed):
                type(func)(_busy(per_item))(data[i])
        finally:
            os._exit(0)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            work = [pool.submit(real if i in claimed else func, x) for i, x in enumerate(data)]
            return [f.result() for f in work]
    finally:
        os.waitpid(child, 0)
