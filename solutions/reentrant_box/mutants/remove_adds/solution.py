"""remove(n) calls execute(n): it adds instead of subtracting."""

import threading


class Box:
    def __init__(self):
        self._lock = threading.RLock()
        self._total = 0

    def execute(self, n):
        with self._lock:
            self._total += n

    def add(self, n=1):
        with self._lock:
            self.execute(n)

    def remove(self, n=1):
        with self._lock:
            self.execute(n)

    @property
    def total(self):
        with self._lock:
            return self._total
