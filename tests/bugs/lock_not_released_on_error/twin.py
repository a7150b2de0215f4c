"""The lock held by `with`: released even when the increment raises (correct twin)."""
import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self.value = 0

    def increment(self, k=1):
        with self._lock:
            if not isinstance(k, int):
                raise TypeError(f"k must be an int, not {type(k).__name__}")
            self.value += k


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
