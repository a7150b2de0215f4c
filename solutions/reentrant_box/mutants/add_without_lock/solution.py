"""add and remove call execute without holding the box's lock (execute locks by itself): another
thread can change the box between their steps."""

import threading


class Box:
    def __init__(self):
        self._lock = threading.RLock()
        self._total = 0

    def execute(self, n):
        with self._lock:
            self._total += n

    def add(self, n=1):
        self.execute(n)

    def remove(self, n=1):
        self.execute(-n)

    @property
    def total(self):
        with self._lock:
            return self._total
