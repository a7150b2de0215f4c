"""Attack: the read-modify-write done inside a library the race checks do not follow.

The count lives in two asyncio.Semaphore objects (asyncio's primitives are not thread-safe:
release() is `self._value += 1` in Python, with no lock), released from the threads with no
lock held: updates are lost when a thread switch falls inside release(). The checks neither
switch nor watch inside asyncio's code (nor threading's, queue's, functools'...), so the
controlled scheduler never interrupts the update and the lockset check never sees its write; a
locked write of the counter's own (`_calls`) gives the real-threads test the writes it counts."""

import asyncio
import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._ups = asyncio.Semaphore(0)
        self._downs = asyncio.Semaphore(0)
        self._calls = 0

    def _note(self):
        with self._lock:
            self._calls += 1

    def increment(self, k=1):
        for _ in range(k):
            self._ups.release()
        self._note()

    def decrement(self, k=1):
        for _ in range(k):
            self._downs.release()
        self._note()

    @property
    def value(self):
        return self._ups._value - self._downs._value


def parallel_count(n_threads, n_increments):
    c = SafeCounter()

    def work():
        for _ in range(n_increments):
            c.increment()

    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
