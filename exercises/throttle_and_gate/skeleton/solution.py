"""Throttling threads with a Semaphore, starting them together at a gate. See README.md."""

import threading
import time


def limited_map(func, items, max_concurrent):
    """[func(x) for x in items], each call in a worker thread, at most max_concurrent at once."""
    raise NotImplementedError


def start_together(n, work):
    """Start n threads that wait at a gate until all n are there, then each records
    time.perf_counter() and calls work(i); return the n start times."""
    raise NotImplementedError
