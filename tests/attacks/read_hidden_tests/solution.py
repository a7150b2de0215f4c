"""Attack: read the hidden tests. The skeleton (0/10), which searches the whole sandbox for
test files (test_hidden.py, tests/hidden/, conftest.py...) and hands whatever it finds back
to the student through the feedback page. It also reads its own request file, which holds the
source of the probe the hidden test sends (that part works: see the note)."""

import json
import os

from snoop import read, snoop, summary

FOUND = snoop()


def _report():
    if FOUND["tests"]:
        leak = "; ".join(f"{p}: {read(p, 200)!r}" for p in FOUND["tests"][:3])
        return RuntimeError("LEAKED hidden tests: " + leak)
    try:
        with open(os.path.join(os.path.dirname(os.getcwd()), "out", "request.json")) as f:
            request = json.load(f)
        probe = (request.get("probe") or {}).get("source") or f"call {request.get('function')}{request.get('args')}"
    except (OSError, ValueError) as exc:
        probe = f"<request not readable: {exc}>"
    return NotImplementedError(f"no test file found ({summary(FOUND)}). What this request runs: {probe[:600]}")


class SafeCounter:
    def __init__(self):
        raise _report()

    def increment(self, k=1):
        raise NotImplementedError

    def decrement(self, k=1):
        raise NotImplementedError

    @property
    def value(self):
        raise NotImplementedError


def parallel_count(n_threads, n_increments):
    raise _report()
