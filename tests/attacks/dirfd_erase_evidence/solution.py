"""Attack: erase the audit hook's evidence. The racy counter (honestly 6/10), whose
parallel_count(3, 0) tries something the audit hook refuses, under a name the static scan does
not see, then removes the findings file the hook wrote the evidence to. The output folder
(run-XXX/out) is closed to student code by path, but the hook sees only the relative name of
an operation done through a directory descriptor: a descriptor of the folder above the run
folder, then "run-XXX/out" and the file names relative to it, all of which look like names in
the student's own folder."""

import os
import sys
import threading


def _try_and_wipe():
    try:
        getattr(sys, "_get" + "frame")(0)  # refused, and noted as evidence in the out folder
    except PermissionError:
        pass
    run = os.path.dirname(os.getcwd())
    top = os.open(os.path.dirname(run), os.O_RDONLY | os.O_DIRECTORY)
    try:
        out = os.open(os.path.basename(run) + "/" + "out", os.O_RDONLY | os.O_DIRECTORY, dir_fd=top)
    finally:
        os.close(top)
    wiped = []
    try:
        for name in os.listdir(out):
            if name.startswith("findings-"):
                os.unlink(name, dir_fd=out)
                wiped.append(name)
    finally:
        os.close(out)
    return wiped


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
    if (n_threads, n_increments) == (3, 0):
        return len(_try_and_wipe()) + 100  # a wrong count: that test fails as it would anyway
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
