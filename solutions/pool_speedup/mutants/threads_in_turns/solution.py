"""kind 'thread': each item is submitted and waited for before the next, so the waits never
overlap."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    with POOLS[kind](max_workers=workers) as pool:
        if kind == "thread":
            return [pool.submit(func, x).result() for x in data]
        return list(pool.map(func, data))
