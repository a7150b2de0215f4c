"""Runs one sandbox request from its own process, as the judge's pytest subprocesses do.

    python cores_driver.py BACKEND SUBMISSION OPTIONS_JSON SECONDS

prints the JSON of `where` (tests/test_cores.py) run with the request options in OPTIONS_JSON
(`exclusive_cores`, `ranks`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from grader.course import Limits
from grader.judge.proxy import Student
from grader.sandbox import get_backend


def where(mod, seconds):
    """When the request ran and the cores it was allowed to use (read inside the sandbox)."""
    import time

    with open("/proc/self/status") as f:
        allowed = next(line.split()[1] for line in f if line.startswith("Cpus_allowed_list"))
    start = time.time()
    time.sleep(seconds)
    return {"start": start, "end": time.time(), "cpus": allowed}


def main() -> None:
    backend_name, submission, options, seconds = sys.argv[1:5]
    limits = Limits(wall_seconds=30)
    backend = get_backend(backend_name)
    with backend.open(Path(submission), limits) as session:
        student = Student(session=session, module="solution", timeout=30, limits=asdict(limits))
        print(json.dumps(student.run(where, float(seconds), **json.loads(options))), flush=True)


if __name__ == "__main__":
    main()
