"""A tiny course built in a temporary folder, for the store and export tests.

One exercise, `tiny`: `add(a, b)` and `slow_add(a, b)` (which sleeps `SLOW` seconds, so a
batch can be interrupted in the middle), one public and two hidden tests.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SLOW = 0.0
GOOD = "import time\ndef add(a, b):\n    return a + b\ndef slow_add(a, b):\n    time.sleep({slow})\n    return a + b\n"
BAD = "import time\ndef add(a, b):\n    return a - b\ndef slow_add(a, b):\n    time.sleep({slow})\n    return a + b\n"

COURSE = """\
[course]
name = "Tiny course"
term = "Test"
backend = "local"

[late_policy]
penalty_per_day = 0.1
last_day = 3

[[exercise]]
slug = "tiny"
points = 10
due = 2026-09-21T23:59:00Z
"""

TESTS = {
    "public/test_public.py": '''
        from grader.testing import expect_equal

        def test_add_small(student):
            """add gives the sum of two small numbers"""
            expect_equal(student.call("add", 1, 2), 3, "add(1, 2)")
        ''',
    "hidden/test_hidden.py": '''
        from grader.testing import expect_equal

        def test_add_negative(student):
            """add handles negative numbers"""
            expect_equal(student.call("add", -4, 1), -3, "add(-4, 1)")

        def test_slow_add(student):
            """slow_add gives the sum"""
            expect_equal(student.call("slow_add", 2, 2), 4, "slow_add(2, 2)")
        ''',
}


def make_course(root: Path) -> Path:
    ex = root / "exercises" / "tiny"
    for rel, text in TESTS.items():
        path = ex / "tests" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (ex / "skeleton").mkdir()
    (ex / "skeleton" / "solution.py").write_text("def add(a, b):\n    raise NotImplementedError\n")
    (ex / "README.md").write_text("# Tiny\n")
    (ex / "exercise.toml").write_text('title = "Adding numbers"\ntopic = "threads"\npoints = 10\n')
    (root / "course.toml").write_text(COURSE)
    return root


def make_class(
    folder: Path,
    students: dict[str, str],
    slow: float = SLOW,
    received: dict[str, str] | None = None,
) -> Path:
    """One `<student>.py` per student: 'good' or 'bad' code, or any other text as the source."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, kind in students.items():
        source = {"good": GOOD, "bad": BAD}.get(kind, kind)
        (folder / f"{name}.py").write_text(
            source.format(slow=slow) if kind in ("good", "bad") else source
        )
    if received:
        (folder / "received.csv").write_text(
            "student,received\n" + "".join(f"{n},{t}\n" for n, t in received.items())
        )
    return folder


def fake_run_tests(delay: float = 0.0, fail_all: bool = False, broken: tuple[str, ...] = ()):
    """A stand-in for the sandbox + judge: reads solution.py and answers like the real tests.

    `add` returning a - b fails `test_add_negative`; `fail_all` fails every test (as if the
    tests had been made stricter); a submission containing a name in `broken` raises the
    PlatformError a platform failure raises. Intake, scoring and the late policy stay real.
    """
    import time

    from grader.errors import PlatformError
    from grader.judge.runner import TestRun
    from grader.protocol import TestRecord

    def run_tests(exercise, submission, backend, limits, seed, suites=(), verbose=False, only=None):
        source = (submission / "solution.py").read_text()
        if any(b in source for b in broken):
            raise PlatformError("sandbox could not start")
        time.sleep(delay)
        bad = "a - b" in source
        tests = [
            ("test_add_small", "public", not fail_all),
            ("test_add_negative", "hidden", not bad and not fail_all),
            ("test_slow_add", "hidden", not fail_all),
        ]
        return TestRun(
            [
                TestRecord(
                    nodeid=f,
                    name=f,
                    function=f,
                    visibility=v,
                    status="passed" if ok else "failed",
                    message="" if ok else f"{f}: add(-4, 1) returned 5, expected -3",
                    details={},
                    duration=delay,
                    seed=seed,
                )
                for f, v, ok in tests
            ]
        )

    return run_tests
