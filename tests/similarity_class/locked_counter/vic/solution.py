"""Vic: an explicit acquire/release around each update, workers as a Thread subclass."""

import threading


class SafeCounter:
    def __init__(self):
        self._guard = threading.Lock()
        self._total = 0

    def _add(self, delta):
        self._guard.acquire()
        try:
            self._total = self._total + delta
        finally:
            self._guard.release()

    def increment(self, k=1):
        self._add(k)

    def decrement(self, k=1):
        self._add(-k)

    @property
    def value(self):
        self._guard.acquire()
        try:
            return self._total
        finally:
            self._guard.release()


class _Incrementer(threading.Thread):
    def __init__(self, counter, times):
        super().__init__(daemon=True)
        self.counter = counter
        self.times = times

    def run(self):
        remaining = self.times
        while remaining > 0:
            self.counter.increment()
            remaining -= 1


def parallel_count(n_threads, n_increments):
    shared = SafeCounter()
    crew = [_Incrementer(shared, n_increments) for _ in range(n_threads)]
    for member in crew:
        member.start()
    for member in crew:
        member.join()
    return shared.value
