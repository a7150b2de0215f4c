"""Mutant (acquire()/release() without with or finally: an exception leaves the lock held) for reentrant_box."""

import threading


class Box:
    def __init__(self):
        self._lock = threading.RLock()
        self._total = 0

    def execute(self, n):
        self._lock.acquire()
        self._total += n
        self._lock.release()

    def add(self, n=1):
        self._lock.acquire()
        self.execute(n)
        self._lock.release()

    def remove(self, n=1):
        self._lock.acquire()
        self.execute(-n)
        self._lock.release()

    @property
    def total(self):
        with self._lock:
            return self._total
