"""A bounded buffer for producers and consumers. See README.md for the exercise."""

import threading


class BufferClosed(Exception):
    """Raised by get() on a closed buffer that holds no more items, and by put() on a closed
    buffer."""


class BoundedBuffer:
    def __init__(self, capacity):
        raise NotImplementedError

    def put(self, item, timeout=None):
        """Add item at the end; wait while the buffer holds `capacity` items. TimeoutError if
        there is still no room after `timeout` seconds (None: wait as long as it takes)."""
        raise NotImplementedError

    def get(self, timeout=None):
        """Remove and return the oldest item; wait while the buffer is empty. BufferClosed if
        the buffer is closed and empty; TimeoutError after `timeout` seconds."""
        raise NotImplementedError

    def close(self):
        """No more puts: waiting consumers wake up and, once the buffer is empty, get() raises
        BufferClosed."""
        raise NotImplementedError
