"""Attack: copy another student's work. The skeleton (0/10), which looks for other students'
files -- other solution.py files, other run folders under /work, the working directories and
roots of every other process (/proc/*/cwd, /proc/*/root) -- while the honest students of the
same batch are being graded, and delegates to the first working one it can import."""

import glob
import importlib.util
import os

from snoop import read, snoop, summary

FOUND = snoop()
OWN = os.path.realpath(os.getcwd())
CANDIDATES = FOUND["sources"] + FOUND["solutions"]
for _line in FOUND["processes"]:
    _target = _line.split(" -> ", 1)[1]
    CANDIDATES += glob.glob(os.path.join(_target, "*.py")) + glob.glob(os.path.join(_target, "*/*.py"))
CANDIDATES += glob.glob("/work/*/work/*.py") + glob.glob("/proc/*/cwd/*.py") + glob.glob("/proc/*/root/submission/*.py")

OTHER = None
for _path in CANDIDATES:
    if os.path.realpath(_path).startswith(OWN) or os.path.realpath(_path).startswith("/submission"):
        continue
    if "def parallel_count" in read(_path, 100_000):
        _spec = importlib.util.spec_from_file_location("other_student", _path)
        OTHER = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(OTHER)
        print(f"LEAKED another student's file {_path}")
        break

if OTHER is not None:
    SafeCounter = OTHER.SafeCounter
    parallel_count = OTHER.parallel_count
else:
    class SafeCounter:
        def __init__(self):
            raise NotImplementedError(f"nobody else's files: {summary(FOUND)}")

    def parallel_count(n_threads, n_increments):
        raise NotImplementedError(f"nobody else's files: {summary(FOUND)}")
