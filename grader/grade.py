"""Grading one submission: intake → sandbox + judge → result → feedback.

A submission the student broke (missing file, syntax error, unsafe archive)
scores 0 with the reason. A failure of the platform itself raises
`GradingFailed`: such a submission is reported as not graded, never as 0. An
exercise whose tests need a GPU, graded where there is none, is "not graded:
needs a GPU" (`SubmissionResult.not_graded`): its results are written, never a score.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
import time
from pathlib import Path

from grader.course import Course, Exercise
from grader.errors import GraderError, PlatformError, SubmissionError
from grader.intake import content_hash, prepare_submission
from grader.judge import suspicion
from grader.judge.runner import run_tests
from grader.protocol import Outcome
from grader.results import (
    SubmissionResult,
    TestResult,
    apply_late_policy,
    late_days,
    mark_not_graded,
    score_records,
)


class GradingFailed(GraderError):
    """The platform could not grade this submission (not the student's fault); retry later."""


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31)


def grade_submission(
    course: Course,
    exercise: Exercise,
    src: Path,
    *,
    student: str | None = None,
    backend: str = "docker",
    seed: int | None = None,
    received: dt.datetime | None = None,
    suites: tuple[str, ...] = ("public", "hidden"),
    sandbox_info: dict | None = None,
    verbose: bool = False,
    only: list[str] | None = None,
) -> SubmissionResult:
    seed = new_seed() if seed is None else seed
    student = student or src.stem
    t0 = time.monotonic()
    result = SubmissionResult(
        student=student,
        exercise=exercise.slug,
        tests=[],
        max_score=exercise.points,
        seed=seed,
        sandbox=sandbox_info or {"backend": backend},
    )
    workdir = Path(tempfile.mkdtemp(prefix="pgrader-sub-"))
    try:
        prepared = prepare_submission(src, exercise.files, workdir / "submission")
        result.content_hash = content_hash(prepared)
        static = suspicion.scan(prepared)
        run = run_tests(exercise, prepared, backend, exercise.limits, seed, suites, verbose, only)
        result.tests = score_records(exercise, run.records)
        mark_not_graded(result, exercise)
        result.suspicion = suspicion.report(static, run.tampering)
    except SubmissionError as exc:
        result.error = str(exc)
        result.tests = [
            TestResult(
                name="Submission accepted",
                function="submission",
                suite="public",
                verdict=Outcome.ERROR,
                points=0.0,
                max_points=exercise.points,
                message=str(exc),
            )
        ]
    except PlatformError as exc:
        raise GradingFailed(f"{student}: {exc}") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.execution_time = time.monotonic() - t0
    apply_late_policy(result, course.late_policy, late_days(received, exercise.due))
    return result


def write_outputs(result: SubmissionResult, exercise: Exercise, out_dir: Path) -> None:
    """results.json and feedback.html for one graded submission."""
    # lazy: jinja2 is not installed where the grader runs without its dependencies (the
    # student's `grader check` from the bundle, the Gradescope autograder: pytest only)
    from grader.feedback import render_feedback

    out_dir.mkdir(parents=True, exist_ok=True)
    result.write(out_dir / "results.json", exercise.hidden_visibility)
    (out_dir / "feedback.html").write_text(
        render_feedback(result, exercise), encoding="utf-8", errors="replace"
    )
