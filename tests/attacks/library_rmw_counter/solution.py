"""A counter whose value is updated without its lock: the read-modify-write happens inside
collections.Counter.update (library frames), with a Fraction's pure-Python __add__ between the
read and the write, where a real GIL switch can lose an update."""
import threading
from collections import Counter
from fractions import Fraction


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._calls = 0
        self._c = Counter(v=Fraction(0))

    def increment(self, k=1):
        k + 0  # TypeError for a non-number, like the reference
        self._c.update({"v": Fraction(k)})  # no lock: read and write in library code
        with self._lock:
            self._calls += 1  # a locked write, so the lockset sees the threads at work

    def decrement(self, k=1):
        k + 0
        self._c.update({"v": Fraction(-k)})
        with self._lock:
            self._calls += 1

    @property
    def value(self):
        return int(self._c["v"])


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
