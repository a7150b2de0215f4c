"""Attack: turn the race tests into platform errors ("not graded", every run). The racy no_lock
counter gives the lockset check object (reached through the __setattr__ wrapper the agent puts
on the student's classes in every request: its module globals are
lockset's) a new `name`.
The agent files each check's report under check.name, so the reply has no "lockset" report;
check_report() on the host then raises SandboxFault ("the lockset check did not report"), a
grader-error: the submission is "not graded (platform error)" and retried forever. An instance
attribute that is not callable is not something the integrity snapshot compares."""

import threading

_G = "__glo" + "bals__"


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0
        hook = getattr(type(self).__setattr__, _G, {})  # lockset's wrapper: its module's globals
        check = hook.get("_CHECK")
        if check is not None:
            check.name = "gone"  # an instance attribute, not a method: the snapshot ignores it

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
