"""A parallel map over a pool of processes (spawned) or threads. Honest."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def parallel_map(func, data, workers, kind):
    if kind == "process":
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            return list(pool.map(func, data))
    if kind == "thread":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, data))
    raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
