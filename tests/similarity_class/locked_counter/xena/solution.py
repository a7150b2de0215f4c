"""Xena: an RLock, and a barrier so that every thread starts counting at once."""

from threading import Barrier, RLock, Thread


class SafeCounter:
    def __init__(self):
        self.lock = RLock()
        self.n = 0

    def increment(self, k=1):
        with self.lock:
            self.n += k

    def decrement(self, k=1):
        self.increment(-k)

    @property
    def value(self):
        with self.lock:
            return self.n


def parallel_count(n_threads, n_increments):
    counter = SafeCounter()
    start = Barrier(n_threads)

    def job():
        start.wait()
        for _ in range(n_increments):
            counter.increment(1)

    threads = [Thread(target=job) for _ in range(n_threads)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return counter.value
