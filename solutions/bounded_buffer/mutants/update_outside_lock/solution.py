"""Mutant (a ring buffer whose slots and indices are updated after the lock is released) for bounded_buffer."""

import threading
import time


class BufferClosed(Exception):
    """Raised by get() on a closed, empty buffer, and by put() on a closed buffer."""


class BoundedBuffer:
    def __init__(self, capacity):
        self._capacity = capacity
        self._slots = [None] * capacity
        self._head = 0  # next slot to read
        self._count = 0
        self._closed = False
        self._cond = threading.Condition()

    def _wait(self, ready, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while not ready():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError("no progress")
            self._cond.wait(left)

    def put(self, item, timeout=None):
        with self._cond:
            self._wait(lambda: self._closed or self._count < self._capacity, timeout)
            if self._closed:
                raise BufferClosed("put() on a closed buffer")
        # "the waiting is over, so the rest needs no lock"
        self._slots[(self._head + self._count) % self._capacity] = item
        self._count += 1
        with self._cond:
            self._cond.notify_all()

    def get(self, timeout=None):
        with self._cond:
            self._wait(lambda: self._count or self._closed, timeout)
            if not self._count:
                raise BufferClosed("the buffer is closed and empty")
        item = self._slots[self._head]
        self._head = (self._head + 1) % self._capacity
        self._count -= 1
        with self._cond:
            self._cond.notify_all()
        return item

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
