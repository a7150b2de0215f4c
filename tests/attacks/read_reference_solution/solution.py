"""Attack: find and use the reference solution. The skeleton (0/10), which searches the whole
sandbox for solutions/, mutants/, exercises/ or any other solution.py, and delegates to the
first one defining SafeCounter and parallel_count: full marks if the reference is reachable."""

import importlib.util

from snoop import read, snoop, summary

FOUND = snoop()
REFERENCE = None
for _path in FOUND["solutions"] + FOUND["sources"]:
    if "def parallel_count" in read(_path, 100_000) and "SafeCounter" in read(_path, 100_000):
        _spec = importlib.util.spec_from_file_location("stolen_reference", _path)
        REFERENCE = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(REFERENCE)
        print(f"LEAKED reference solution at {_path}")
        break

if REFERENCE is not None:
    SafeCounter = REFERENCE.SafeCounter
    parallel_count = REFERENCE.parallel_count
else:
    class SafeCounter:
        def __init__(self):
            raise NotImplementedError(f"no reference found: {summary(FOUND)}")

    def parallel_count(n_threads, n_increments):
        raise NotImplementedError(f"no reference found: {summary(FOUND)}")
