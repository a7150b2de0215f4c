"""Lower-cases kind before checking it: 'Process' and 'THREAD' are accepted instead of raising ValueError."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    kind = str(kind).strip().lower()
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    with POOLS[kind](max_workers=workers) as pool:
        return list(pool.map(func, data))
