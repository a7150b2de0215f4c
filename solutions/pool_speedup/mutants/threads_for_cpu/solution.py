"""A parallel map over a pool of processes or threads. Reference solution."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    with ThreadPoolExecutor(max_workers=workers) as pool:  # BUG: threads for CPU-bound work too
        return list(pool.map(func, data))
