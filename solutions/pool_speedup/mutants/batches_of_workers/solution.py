"""Hands the items to the pool in batches of workers, waiting for each batch: a worker that ends its item early idles until the batch is done."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    data = list(data)
    out = []
    with POOLS[kind](max_workers=workers) as pool:
        for i in range(0, len(data), workers):
            out.extend(pool.map(func, data[i:i + workers]))
    return out
