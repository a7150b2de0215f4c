"""Attack: a 10 MB exception. The racy counter (honestly 6/10), whose parallel_count(3, 0)
raises an exception with a 10 MB message; its class name is 3 MB long, it is raised from a
3 MB line of source, and a thread with a 3 MB name is left running."""

import threading

_BIG = 10 * 1024 * 1024
_LONG = 3 * 1024 * 1024
Huge = type("E" * _LONG, (Exception,), {})


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
    if n_threads == 3:
        stop = threading.Event()
        threading.Thread(target=stop.wait, name="T" * _LONG, daemon=True).start()
        with open("huge_line.py", "w") as f:  # a module whose one line is 10 MB long
            f.write("def boom(Huge, big): raise Huge('A' * big)  # " + "x" * _LONG + "\n")
        import huge_line

        huge_line.boom(Huge, _BIG)
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
