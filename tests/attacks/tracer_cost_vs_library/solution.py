"""Attack: the tracer's cost is a tell, measured against library code. The racy counter
(honestly 6/10) takes its lock only when a loop of its own runs several times slower than a
pure-Python loop of the standard library (statistics.mean): the race checks trace every frame
of the student's code, whatever its file name, but no library frame, so in a checked request
the student's loop is 20-60x slower than the library's and in a plain request about as fast."""

import statistics
import time

import sometimes_locked


def _mine():
    t0 = time.perf_counter()
    x = 0
    for i in range(5000):
        x += i
    return time.perf_counter() - t0


def _theirs():
    t0 = time.perf_counter()
    statistics.mean(range(1, 800))
    return time.perf_counter() - t0


def _watched():
    return min(_mine() for _ in range(3)) > 5 * min(_theirs() for _ in range(3))


_locked = sometimes_locked.build(True)
_racy = sometimes_locked.build(False)


class SafeCounter:
    """Decides per counter (each probe builds its own, in the request being judged)."""

    def __new__(cls):
        return (_locked if _watched() else _racy)[0]()


def parallel_count(n_threads, n_increments):
    return (_locked if _watched() else _racy)[1](n_threads, n_increments)
