"""The racy counter every cheating attack starts from (the no_lock mutant: honestly 6/10).

`SafeCounter.increment` updates without the lock; attacks subclass it or wrap it with their
cheat, and re-export `parallel_count` built on their own class."""

import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


def make_parallel_count(counter_class):
    def parallel_count(n_threads, n_increments):
        c = counter_class()

        def work():
            for _ in range(n_increments):
                c.increment()

        ts = [threading.Thread(target=work) for _ in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return c.value
    return parallel_count
