"""Attack: patch the test framework from the student's module. The skeleton (0/10), which at
import makes pytest, unittest and the grader's own expectation helpers always pass -- in
whatever interpreter imports it."""

import builtins
import sys

PATCHED = []


def _always_pass(*args, **kwargs):
    return None


try:
    import pytest

    pytest.fail = pytest.skip = pytest.xfail = _always_pass
    pytest.approx = lambda expected, *a, **k: type("Anything", (), {"__eq__": lambda s, o: True})()
    PATCHED.append("pytest")
except ImportError:
    PATCHED.append("pytest: not importable")

import unittest  # noqa: E402

for _name in dir(unittest.TestCase):
    if _name.startswith("assert") or _name == "fail":
        setattr(unittest.TestCase, _name, _always_pass)
PATCHED.append("unittest")

for _module in ("grader.testing", "grader.judge.proxy", "grader.judge.verdicts", "grader.judge.plugin"):
    try:
        __import__(_module)
        _mod = sys.modules[_module]
        for _name in dir(_mod):
            if _name.startswith("expect_") or _name == "raise_for":
                setattr(_mod, _name, _always_pass)
        if hasattr(_mod, "classify"):
            _mod.classify = lambda report, excinfo: ("passed", "", {})
        PATCHED.append(_module)
    except Exception as exc:  # noqa: BLE001
        PATCHED.append(f"{_module}: {type(exc).__name__}")


class _Nothing(Exception):
    pass


builtins.AssertionError = _Nothing  # a failing `assert` would raise something nobody catches


class SafeCounter:
    def __init__(self):
        raise NotImplementedError(f"patched: {PATCHED}")

    def increment(self, k=1):
        raise NotImplementedError

    def decrement(self, k=1):
        raise NotImplementedError

    @property
    def value(self):
        raise NotImplementedError


def parallel_count(n_threads, n_increments):
    raise NotImplementedError(f"patched: {PATCHED}")
