"""Attack: lie about time and cores. The racy counter (honestly 6/10), which at import makes
every clock of the time module stand still (or run backwards) and claims 1024 CPUs, hoping the
grader's timings and parallelism measures come out in its favour."""

import multiprocessing
import os
import threading
import time

_FROZEN = 1_000_000.0
for _name in ("time", "perf_counter", "monotonic", "process_time", "thread_time"):
    setattr(time, _name, lambda: _FROZEN)
    setattr(time, _name + "_ns", lambda: int(_FROZEN * 1e9))
os.cpu_count = lambda: 1024
multiprocessing.cpu_count = lambda: 1024
os.sched_getaffinity = lambda pid: set(range(1024))
os.times = lambda: os.times_result((0.0, 0.0, 0.0, 0.0, 0.0))


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


def parallel_count(n_threads, n_increments):
    c = SafeCounter()

    def work():
        for _ in range(n_increments):
            c.increment()

    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
