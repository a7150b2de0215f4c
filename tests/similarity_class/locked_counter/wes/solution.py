"""Wes: locked counter."""

import threading


def parallel_count(threads, increments):
    # start the workers, wait for them, read the total
    counter = SafeCounter()
    team = [_Worker(counter, increments) for _ in range(threads)]
    for w in team:
        w.start()
    for w in team:
        w.join()
    return counter.value


class _Worker(threading.Thread):
    def __init__(self, target_counter, n):
        super().__init__(daemon=True)
        self.target_counter = target_counter
        self.n = n

    def run(self):
        left = self.n
        while left > 0:
            self.target_counter.increment()
            left -= 1


class SafeCounter:
    def __init__(self):
        self._mutex = threading.Lock()
        self._count = 0

    @property
    def value(self):
        self._mutex.acquire()
        try:
            return self._count
        finally:
            self._mutex.release()

    def decrement(self, k=1):
        self._change(-k)

    def increment(self, k=1):
        self._change(k)

    def _change(self, amount):
        self._mutex.acquire()
        try:
            self._count = self._count + amount
        finally:
            self._mutex.release()
