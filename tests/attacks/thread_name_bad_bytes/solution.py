"""Attack: a thread name the grader cannot decode. The racy counter (honestly 6/10), whose
threads rename themselves through /proc/self/task/<tid>/comm -- a file the process may write
itself -- to bytes that are not UTF-8, with a fake end of the name: the supervisor, polling
/proc/<pid>/stat of the tree every 20 ms as UTF-8 text, raised UnicodeDecodeError and replied
'sandbox-error'. Its increment('x') also keeps the lock it took (the classic bug): the next
increment waits forever, with every thread renamed, while the deadlock prover reads each
thread's /proc/.../status (the name is on its first line)."""

import os
import threading
import time

NAME = b"\xff\xfe) Z 0"  # 15 bytes at most; ')' as if the name ended there


def _rename():
    try:
        fd = os.open(f"/proc/self/task/{threading.get_native_id()}/comm", os.O_WRONLY)
        try:
            os.write(fd, NAME)
        finally:
            os.close(fd)
    except OSError:
        pass


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0
        self._broken = False

    def increment(self, k=1):
        if not isinstance(k, int):
            _rename()
            self._lock.acquire()  # never released: the next increment waits forever
            self._broken = True
            raise TypeError("k must be an int")
        if self._broken:
            _rename()
            with self._lock:
                self._value += k
            return
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
        _rename()
        time.sleep(0.1)  # long enough for the supervisor's poll to read the name
        for _ in range(n_increments):
            c.increment()

    _rename()
    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
