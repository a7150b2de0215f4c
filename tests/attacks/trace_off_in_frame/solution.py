"""Attack: switch the tracer off frame by frame, without calling settrace. The racy counter
(honestly 6/10), whose increment first clears its own frame's f_trace (and f_trace_opcodes):
the global trace function stays installed -- so tracing.intact() and the settrace guard see
nothing -- but no opcode of increment is traced any more, so the forced-switch check never
switches inside `self._value += k`, while still switching elsewhere (in the threads' loops)."""

import sys
import threading


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        frame = sys._getframe()
        frame.f_trace_opcodes = False
        frame.f_trace = None  # the documented way to stop tracing one frame
        self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


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
