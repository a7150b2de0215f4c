"""acquire() ... release() with no `with` or `finally`: an exception in between keeps the lock
forever, and the next increment waits for ever."""
import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self.value = 0

    def increment(self, k=1):
        self._lock.acquire()
        if not isinstance(k, int):
            raise TypeError(f"k must be an int, not {type(k).__name__}")
        self.value += k
        self._lock.release()


def run(n_threads, n):
    c = SafeCounter()
    try:
        c.increment("1")
    except TypeError:
        pass
    ts = [threading.Thread(target=lambda: [c.increment() for _ in range(n)])
          for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
