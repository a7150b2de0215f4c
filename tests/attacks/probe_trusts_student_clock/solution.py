"""Attack: the sequential mutant of pool_speedup (honestly 5/10) with a slowed time.perf_counter.
The hidden probe _sleep_map times the student's map with time.perf_counter() *inside the
sandbox*, in the student's own process, and test_io_bound_threads_overlap judges that number:
a clock running at a quarter speed makes 8 sleeps of 0.25 s in a row look like 0.5 s of wall,
"overlapping" threads. The time module is not part of the integrity snapshot."""

import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}

_real_perf = time.perf_counter
_start = _real_perf()


def _quarter_speed():
    return _start + (_real_perf() - _start) / 4


time.perf_counter = _quarter_speed  # the grader's probes time the map with it, in this process


def parallel_map(func, data, workers, kind):
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    return [func(x) for x in data]  # the sequential bug
