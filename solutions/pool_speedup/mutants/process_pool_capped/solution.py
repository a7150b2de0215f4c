"""kind 'process' gets min(workers, 2) processes: right with 2 workers, one process short with 3."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    size = min(workers, 2) if kind == "process" else workers
    with POOLS[kind](max_workers=size) as pool:
        return list(pool.map(func, data))
