"""Mutant (the book's class-level lock: one RLock shared by every Box) for reentrant_box."""

import threading


class Box:
    lock = threading.RLock()

    def __init__(self):
        self._total = 0

    def execute(self, n):
        with self.lock:
            self._total += n

    def add(self, n=1):
        with self.lock:
            self.execute(n)

    def remove(self, n=1):
        with self.lock:
            self.execute(-n)

    @property
    def total(self):
        with self.lock:
            return self._total
