"""Reference solution for bounded_buffer."""

import time
from collections import deque
from threading import Condition, Lock


class BufferClosed(Exception):
    """Raised by get() on a closed, empty buffer, and by put() on a closed buffer."""


class BoundedBuffer:
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._items = deque()
        self._closed = False
        self._lock = Lock()
        self._not_empty = Condition(self._lock)
        self._not_full = Condition(self._lock)

    @staticmethod
    def _wait(cond, ready, timeout):
        """Wait on cond until ready() is true; TimeoutError once `timeout` seconds have passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not ready():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"no progress within {timeout} s")
            cond.wait(left)

    def put(self, item, timeout=None):
        self._lock.acquire()
        try:
            self._wait(self._not_full,
                       lambda: self._closed or len(self._items) < self._capacity, timeout)
            if self._closed:
                raise BufferClosed("put() on a closed buffer")
            self._items.append(item)
            self._not_empty.notify()
        finally:
            self._lock.release()

    def get(self, timeout=None):
        self._not_empty.acquire()
        try:
            self._wait(self._not_empty, lambda: self._items or self._closed, timeout)
            if not self._items:
                raise BufferClosed("the buffer is closed and empty")
            item = self._items.popleft()
            self._not_full.notify()
            return item
        finally:
            self._not_empty.release()

    def close(self):
        with self._not_full:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
