"""Attack: write outside the work directory. The racy counter (honestly 6/10), which at every
import tries to plant code where the grader would run it -- the read-only submission, the
grader package and a .pth file in the sandbox's site-packages, the stdlib, the container's
init -- and to touch the host canary. parallel_count(3, 0) reports what worked."""

import os
import threading

CANARY = "@@CANARY@@"
SITE = "/opt/venv/lib/python3.11/site-packages"
PAYLOAD = "\n# planted by a student\n"
TARGETS = [
    ("append", "/submission/solution.py"),
    ("create", "/submission/planted.py"),
    ("append", SITE + "/grader/checks/lockset.py"),
    ("append", SITE + "/grader/testing.py"),
    ("create", SITE + "/grader/planted.py"),
    ("create", SITE + "/zz_planted.pth"),
    ("append", "/usr/lib/python3.11/threading.py"),
    ("append", "/opt/venv/bin/activate"),
    ("append", "/etc/passwd"),
    ("create", "/planted"),
    ("create", "/work/planted"),
    ("create", os.path.join(os.path.dirname(os.getcwd()), "planted")),
    ("append", os.path.join(os.path.dirname(os.getcwd()), "stdout.txt")),
    ("create", "/home/student/planted"),
    ("create", "/home/judge/planted"),
    ("create", "/var/tmp/planted"),
    ("append", CANARY),
]
RESULTS = []
for _how, _path in TARGETS:
    try:
        with open(_path, "a" if _how == "append" else "x") as _f:
            _f.write(PAYLOAD)
        RESULTS.append(f"LEAKED: wrote {_path}")
    except OSError as _exc:
        RESULTS.append(f"{_path}: {type(_exc).__name__}")
for _call, _args in (("chmod", ("/submission", 0o777)), ("chown", ("/work", 1000, 1000)),
                     ("setuid", (0,)), ("setgid", (0,))):
    try:
        getattr(os, _call)(*_args)
        RESULTS.append(f"LEAKED: os.{_call}{_args} worked")
    except OSError as _exc:
        RESULTS.append(f"os.{_call}: {type(_exc).__name__}")


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
        raise RuntimeError("; ".join(RESULTS))
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
