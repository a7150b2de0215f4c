"""parallel_count returns n_threads * n_increments without starting any thread."""

import threading
class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0
    def increment(self, k=1):
        with self._lock:
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
    return n_threads * n_increments
