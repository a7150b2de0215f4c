import threading
class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0
    def increment(self, k=1):
        self._lock.acquire()
        try:
            self._value += k
        except TypeError:
            self._lock.release()
            raise
        self._lock.release()
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
