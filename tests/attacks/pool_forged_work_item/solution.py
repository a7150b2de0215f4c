"""Attack: the threads_for_cpu mutant (a thread pool for kind 'process', honestly 7/10) that makes
its own grader work item. The probe hands parallel_map a `workitems.Item`; `type(func)` is that
class, so the student builds `type(func)(busy)` and runs it in a forked helper for as long as
the threads work: the helper's "item" notes real CPU in another process, overlapping the real
items, and work/span over the items looks like two processes sharing the work."""

import os
import select
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}


def _busy_until_closed(fd):
    n = 0
    while True:
        for _ in range(20000):
            n += 1
        r, _, _ = select.select([fd], [], [], 0)
        if r:
            return n


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data] with `workers` threads (also for kind 'process': the bug)."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    data = list(data)
    child = None
    if kind == "process" and len(data) > 1:
        # The grader's work item class is right here: type(func). Run a busy "item" of our own
        # in a forked helper while the threads do the real work.
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(w)
                type(func)(_busy_until_closed)(r)
            finally:
                os._exit(0)
        os.close(r)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, data))
    finally:
        if child:
            os.close(w)
            os.waitpid(child, 0)
