"""The pool is created and used, never shut down: its workers are still running when
parallel_map returns."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    pool = POOLS[kind](max_workers=workers)
    return list(pool.map(func, data))
