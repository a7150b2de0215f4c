import itertools, threading
_POOL = [threading.RLock(), threading.RLock()]
_made = itertools.count()
class Box:
    def __init__(self):
        self._lock = _POOL[next(_made) % 2]     # boxes 0 and 2 share a lock
        self._total = 0
    def execute(self, n):
        with self._lock:
            self._total += n
    def add(self, n=1):
        with self._lock:
            self.execute(n)
    def remove(self, n=1):
        with self._lock:
            self.execute(-n)
    @property
    def total(self):
        with self._lock:
            return self._total
