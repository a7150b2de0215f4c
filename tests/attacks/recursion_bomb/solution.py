"""Attack: recursion bombs. The racy counter (honestly 6/10)."""

import sys
import threading


def _down(n):
    return _down(n + 1) + 1


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        if not isinstance(k, int):
            sys.setrecursionlimit(10**8)  # no RecursionError any more: the C stack overflows
            _down(0)
        self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


def parallel_count(n_threads, n_increments):
    if n_threads == 3:
        _down(0)  # the ordinary kind: RecursionError with a 1000-frame traceback
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
