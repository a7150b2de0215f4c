"""Attack: flood stdout and stderr. The racy counter (honestly 6/10).

1 MB of output at every import, and 100 MB on each stream from parallel_count(3, 0).
"""

import os
import sys
import threading

_LINE = "flood " * 16 + "\n"
for _ in range(1024 * 1024 // len(_LINE)):
    sys.stdout.write(_LINE)


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
    if n_threads == 3:
        block = (_LINE * 10_000).encode()
        for _ in range(100 * 1024 * 1024 // len(block)):
            os.write(1, block)
            os.write(2, block)
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
