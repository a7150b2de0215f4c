"""Reference solution for bounded_buffer."""

import collections
import threading
import time


class BufferClosed(Exception):
    """Raised by get() on a closed, empty buffer, and by put() on a closed buffer."""


class BoundedBuffer:
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._items = collections.deque()
        self._closed = False
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    @staticmethod
    def _wait(cond, ready, timeout):
        """Wait on cond until ready() is true; TimeoutError once `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout if timeout else None   # timeout=0 waits forever
        while not ready():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"no progress within {timeout} s")
            cond.wait(left)

    def put(self, item, timeout=None):
        with self._not_full:
            self._wait(self._not_full,
                       lambda: self._closed or len(self._items) < self._capacity, timeout)
            if self._closed:
                raise BufferClosed("put() on a closed buffer")
            self._items.append(item)
            self._not_empty.notify()

    def get(self, timeout=None):
        with self._not_empty:
            self._wait(self._not_empty, lambda: self._items or self._closed, timeout)
            if not self._items:
                raise BufferClosed("the buffer is closed and empty")
            item = self._items.popleft()
            self._not_full.notify()
            return item

    def close(self):
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
