"""Attack: a FIFO among the check findings. The racy counter (honestly 6/10), which in the
request of test_lock_released_after_exception (the 8 s one) creates OUT/findings-evil.jsonl
as a named pipe: the supervisor opens every findings-*.jsonl of the output folder to read
it, and opening a FIFO with no writer blocks."""

import json
import os
import threading

_OUT = os.path.join(os.path.dirname(os.getcwd()), "out")
try:
    with open(os.path.join(_OUT, "request.json")) as _f:
        if (json.load(_f).get("probe") or {}).get("name") == "_after_error":
            os.mkfifo(os.path.join(_OUT, "findings-evil.jsonl"))
            os.mkfifo(os.path.join(_OUT, "stacks-2.txt"))
except OSError:
    pass


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
