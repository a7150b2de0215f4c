"""A thread-safe counter. See README.md for the exercise."""

import threading


class SafeCounter:
    def __init__(self):
        raise NotImplementedError

    def increment(self, k=1):
        raise NotImplementedError

    def decrement(self, k=1):
        raise NotImplementedError

    @property
    def value(self):
        raise NotImplementedError


def parallel_count(n_threads, n_increments):
    raise NotImplementedError
