"""A thread-safe counter, with a registry of counter kinds looked up by name (honest)."""

import importlib
import sys
import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        with self._lock:
            self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


def counter_class(name="SafeCounter"):
    """Counter classes by name, so a config file can pick one."""
    return getattr(sys.modules[__name__], name)


def parallel_count(n_threads, n_increments):
    threading_mod = importlib.import_module("threading")
    c = counter_class()()

    def work():
        for _ in range(n_increments):
            c.increment()
    ts = [threading_mod.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
