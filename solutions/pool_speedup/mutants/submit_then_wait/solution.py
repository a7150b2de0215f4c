"""Hands each item to the pool and waits for its result before handing over the next: the
workers take turns, each doing its share of the work, but never at the same time."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    with POOLS[kind](max_workers=workers) as pool:
        if kind == "thread":
            return list(pool.map(func, data))
        return [pool.submit(func, x).result() for x in data]
