"""Attack: a conftest.py (and pytest.ini, pyproject.toml, setup.cfg, tox.ini) in the submission
that rewrites every test outcome to 'passed'. The solution itself is the skeleton (0/10)."""

import threading  # noqa: F401


class SafeCounter:
    def __init__(self):
        raise NotImplementedError

    def increment(self, k=1):
        raise NotImplementedError

    def decrement(self, k=1):
        raise NotImplementedError

    @property
    def value(self):
        raise NotImplementedError


def parallel_count(n_threads, n_increments):
    raise NotImplementedError
