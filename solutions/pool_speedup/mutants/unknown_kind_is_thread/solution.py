"""Any kind other than 'process' gets a thread pool: an unknown kind raises nothing."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    with POOLS.get(kind, ThreadPoolExecutor)(max_workers=workers) as pool:
        return list(pool.map(func, data))
