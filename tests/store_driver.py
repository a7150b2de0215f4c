"""`grader` with the fake judge of store_class.py, for tests that kill or race real processes.

Usage: python store_driver.py DELAY GRADER-ARGS...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import grader.grade  # noqa: E402
from grader.cli import main  # noqa: E402
from store_class import fake_run_tests  # noqa: E402

grader.grade.run_tests = fake_run_tests(float(sys.argv[1]))
sys.exit(main(sys.argv[2:]))
