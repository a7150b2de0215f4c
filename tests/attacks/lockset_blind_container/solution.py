"""Attack (or an honest mistake the checker misses): keep the count in a list. The counter is
as racy as the no_lock mutant -- `self._cell[0] += k` with no lock is the same
read-modify-write -- but the write is a list item, not an attribute or a global, and the
lockset check watched only those (it now watches item writes too). (A locked attribute write per increment keeps the
lockset's count of writes, which the grader now checks, where a real counter would have it.)"""

import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._cell = [0]

    def increment(self, k=1):
        with self._lock:
            self.last_step = k  # bookkeeping, properly locked (the lockset counts this write)
        self._cell[0] += k  # the race, on a list item

    def decrement(self, k=1):
        with self._lock:
            self._cell[0] -= k

    @property
    def value(self):
        with self._lock:
            return self._cell[0]


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
