"""Mutant (`if` instead of `while` around wait(), with notify_all: a woken consumer takes from an empty buffer) for bounded_buffer."""

import collections
import threading


class BufferClosed(Exception):
    """Raised by get() on a closed, empty buffer, and by put() on a closed buffer."""


class BoundedBuffer:
    def __init__(self, capacity):
        self._capacity = capacity
        self._items = collections.deque()
        self._closed = False
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    def put(self, item, timeout=None):
        with self._not_full:
            if self._closed:
                raise BufferClosed("put() on a closed buffer")
            if len(self._items) >= self._capacity:
                if not self._not_full.wait(timeout):
                    raise TimeoutError("buffer full")
            self._items.append(item)
            self._not_empty.notify_all()

    def get(self, timeout=None):
        with self._not_empty:
            if not self._items and not self._closed:
                if not self._not_empty.wait(timeout):
                    raise TimeoutError("buffer empty")
            if not self._items and self._closed:
                raise BufferClosed("the buffer is closed and empty")
            item = self._items.popleft()
            self._not_full.notify_all()
            return item

    def close(self):
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
