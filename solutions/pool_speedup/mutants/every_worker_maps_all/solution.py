"""kind 'process': every worker maps the whole list and the first copy is returned: the
processes are all busy, each repeating all of the work."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data], computed by `workers` processes (kind "process": CPU-bound
    work) or threads (kind "thread": I/O-bound work); results in input order."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    if kind == "thread":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, data))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        copies = [pool.submit(_map_all, func, data) for _ in range(workers)]
        return copies[0].result()


def _map_all(func, data):
    return [func(x) for x in data]
