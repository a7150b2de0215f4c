"""SafeCounter guarded by a BoundedSemaphore(1) as a mutex."""

import threading
class SafeCounter:
    def __init__(self):
        self._lock = threading.BoundedSemaphore(1)
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
    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    return c.value
