"""Attack: segfault the interpreter with ctypes. The racy counter (honestly 6/10)."""

import ctypes
import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        if not isinstance(k, int):
            ctypes.string_at(0)  # read address 0: SIGSEGV
        self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


def parallel_count(n_threads, n_increments):
    if n_threads == 3:
        ctypes.memset(ctypes.c_void_p(8), 0, 64)  # write near address 0: SIGSEGV
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
