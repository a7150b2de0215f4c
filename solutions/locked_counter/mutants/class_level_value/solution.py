"""The count is a class attribute: every SafeCounter shares one value."""

import threading
class SafeCounter:
    _value = 0
    def __init__(self):
        self._lock = threading.Lock()
    def increment(self, k=1):
        with self._lock:
            SafeCounter._value += k
    def decrement(self, k=1):
        with self._lock:
            SafeCounter._value -= k
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
