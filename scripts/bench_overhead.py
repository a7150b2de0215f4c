"""Where one submission's overhead goes: each fixed cost of grading timed alone (median of N).

Used by `scripts/bench_scale.py` on the trivial exercise (`total(xs)`, three tests, so three
sandbox requests per submission):

- `interpreter`: `python -I -c pass` (every request starts two: supervisor and agent);
- `pytest_session`: the judge's pytest subprocess (`grader.judge.runner.run_tests`) over one
  empty test: interpreter, pytest and plugin imports, collection, report;
- `pytest_autoload_on` / `_off`: a bare pytest over one empty test with our plugin, with and
  without the pytest plugins installed in the venv loaded (`PYTEST_DISABLE_PLUGIN_AUTOLOAD`);
- `<backend>_start`: in a fresh interpreter, `get_backend(name).describe()`: importing the
  backend (the Docker SDK), asking the engine, hashing the sources for the image tag;
- `<backend>_open` / `<backend>_close`: a sandbox session (a private copy of the submission; for
  Docker, creating and starting the container, then removing it);
- `<backend>_request`: one `student.call("total", ...)` round trip, split into the agent's run
  as the supervisor measures it (`reply["wall"]`: agent interpreter, imports, the call) and the
  rest (starting the supervisor; for Docker, `docker exec` through the engine's API);
- `intake_outputs`: intake of the submission, then `results.json` and `feedback.html`;
- `<backend>_grade`: `grade_submission` of the whole trivial submission, for comparison with
  the sum of the parts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from grader.course import Limits, load_course, load_exercise
from grader.grade import grade_submission, write_outputs
from grader.intake import prepare_submission
from grader.judge.proxy import Student
from grader.judge.runner import run_tests
from grader.sandbox import get_backend


def _median(samples: list[float]) -> float:
    return round(statistics.median(samples), 4)


def _timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.monotonic()
        fn()
        out.append(time.monotonic() - t0)
    return out


def _backend_start(name: str) -> float:
    if name == "docker":  # the image for the sources as they are now is ready (not timed)
        from grader.sandbox.image import ensure_image

        ensure_image(log=lambda *a: None)
    code = (
        "import time; t0 = time.monotonic(); from grader.sandbox import get_backend; "
        f"get_backend({name!r}).describe(); print(time.monotonic() - t0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _empty_exercise(work: Path):
    ex = work / "empty_ex"
    (ex / "tests" / "hidden").mkdir(parents=True)
    (ex / "tests" / "hidden" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    (ex / "exercise.toml").write_text('title = "empty"\ntopic = "threads"\n')
    return load_exercise(ex, Limits())


def profile(
    course_root: Path, slug: str, submission: Path, backends: list[str], reps: int = 5, log=print
) -> dict:
    """{part: {"median": s, "samples": [...]}} for every part above."""
    course = load_course(course_root)
    exercise = course.exercise(slug)
    limits = exercise.limits
    parts: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="pgrader-bench-profile-") as tmp:
        work = Path(tmp)
        prepared = prepare_submission(submission, exercise.files, work / "prepared")
        parts["interpreter"] = _timed(
            lambda: subprocess.run([sys.executable, "-I", "-c", "pass"], check=True), reps
        )
        empty = _empty_exercise(work)
        parts["pytest_session"] = _timed(
            lambda: run_tests(empty, prepared, "local", limits, 1), reps
        )

        def intake_and_outputs():
            result = grade_submission(
                course, exercise, submission, backend="local", seed=1, suites=()
            )  # intake, content hash, late policy: no tests
            write_outputs(result, exercise, work / f"out-{time.monotonic_ns()}")

        parts["intake_outputs"] = _timed(intake_and_outputs, reps)
        (work / "bare").mkdir()
        (work / "bare" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
        for flag, env in (("on", {}), ("off", {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})):
            argv = [
                sys.executable,
                "-m",
                "pytest",
                "-qq",
                "-p",
                "no:cacheprovider",
                "-p",
                "grader.judge.plugin",
                str(work / "bare"),
            ]
            parts[f"pytest_autoload_{flag}"] = _timed(
                lambda argv=argv, env=env: subprocess.run(
                    argv, cwd=work, env={**os.environ, **env}, check=True, capture_output=True
                ),
                reps,
            )

        for name in backends:
            parts[f"{name}_start"] = [_backend_start(name) for _ in range(reps)]
            backend = get_backend(name)
            try:
                backend.describe()  # Docker: the image is ready before anything is timed
                opened, closed, trips, agent = [], [], [], []
                for _ in range(reps):
                    t0 = time.monotonic()
                    session = backend.open(prepared, limits)
                    opened.append(time.monotonic() - t0)
                    student = Student(
                        session=session,
                        module=exercise.module,
                        timeout=limits.wall_seconds,
                        limits=asdict(limits),
                    )
                    for _ in range(3):
                        t0 = time.monotonic()
                        student.call("total", [1, 2, 3])
                        trips.append(time.monotonic() - t0)
                        agent.append(student.last.wall)
                    t0 = time.monotonic()
                    session.close()
                    closed.append(time.monotonic() - t0)
            finally:
                backend.close()
            parts[f"{name}_open"], parts[f"{name}_close"] = opened, closed
            parts[f"{name}_request"] = trips
            parts[f"{name}_request_agent"] = agent
            parts[f"{name}_request_rest"] = [t - a for t, a in zip(trips, agent)]
            parts[f"{name}_grade"] = _timed(
                lambda name=name: grade_submission(
                    course, exercise, submission, backend=name, seed=1
                ),
                reps,
            )
            log(
                f"profile {name}: open {_median(opened):.2f} s, request {_median(trips):.2f} s, "
                f"close {_median(closed):.2f} s"
            )
    return {
        k: {"median": _median(v), "samples": [round(x, 4) for x in v]} for k, v in parts.items()
    }
