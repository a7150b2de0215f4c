"""Scores and `results.json`: a superset of Gradescope's autograder results format.

Gradescope reads `score`, `execution_time`, `output`, `visibility`,
`stdout_visibility` and, per test, `name`, `number`, `score`, `max_score`,
`status` (passed/failed), `output`, `tags` and `visibility`. We add, per test,
the richer `verdict` (passed, failed, error, timeout, deadlock, race, crashed,
not-run, grader-error), `points`/`max_points`, the student-facing `message`,
the evidence in `details`, the `seed` and the `duration`; and at the top a
`pgrader` block with the grader version, the sandbox, the seeds and the late
policy applied.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__
from grader.course import Exercise, LatePolicy
from grader.judge.verdicts.record import earns_points
from grader.protocol import Outcome, TestRecord
from grader.states import NEEDS_GPU  # noqa: F401 - why a result is not a grade (re-exported)

NO_GPU_TEST = "no GPU"  # in the message of a test that could not run for want of a GPU


@dataclass
class TestResult:
    name: str
    function: str
    suite: str  # public or hidden
    verdict: str
    points: float
    max_points: float
    message: str = ""
    details: dict = field(default_factory=dict)
    duration: float = 0.0
    seed: int | None = None
    requirements: list[str] = field(default_factory=list)  # ids from exercise.toml it checks

    @property
    def passed(self) -> bool:
        return self.verdict == Outcome.PASSED


@dataclass
class SubmissionResult:
    student: str
    exercise: str
    tests: list[TestResult]
    max_score: float
    error: str | None = None  # the whole submission could not be graded (student-facing reason)
    late_days: int = 0
    penalty: float = 0.0  # fraction of the score lost to lateness
    seed: int = 0
    execution_time: float = 0.0
    sandbox: dict = field(default_factory=dict)
    content_hash: str = ""
    suspicion: dict = field(default_factory=dict)  # see grader.judge.suspicion: for instructors
    graded_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    grader_version: str = __version__
    not_graded: str = ""  # why these results are not a grade (NEEDS_GPU); "" for a grade

    @property
    def graded(self) -> bool:
        """A grade: not refused for want of hardware (see `not_graded`) nor spoilt by the
        platform. Anything else is shown as "not graded", never as a number."""
        return not self.not_graded and not self.platform_failed

    @property
    def raw_score(self) -> float:
        return round(sum(t.points for t in self.tests), 4)

    @property
    def score(self) -> float:
        return round(self.raw_score * (1 - self.penalty), 4)

    @property
    def platform_failed(self) -> bool:
        """True when the platform, not the student, failed: such a result must be regraded."""
        return any(t.verdict == Outcome.GRADER_ERROR for t in self.tests)

    def summary(self) -> str:
        if self.error:
            return f"Refused: {self.error}"
        if self.not_graded == NEEDS_GPU:
            ran = [t for t in self.tests if t.verdict != Outcome.NOT_RUN]
            passed = sum(t.passed for t in ran)
            return (
                f"Not graded yet: {NEEDS_GPU}. This exercise's tests run kernels on a GPU "
                "and this grading machine has none; it will be graded on a machine with a "
                f"GPU. Of the {len(ran)} checks that run anywhere, {passed} passed."
            )
        passed = sum(t.passed for t in self.tests)
        text = f"{passed} of {len(self.tests)} tests passed: {self.raw_score:g} / {self.max_score:g} points."
        if self.penalty:
            text += f" Late by {self.late_days} day(s): -{self.penalty:.0%}, final {self.score:g}."
        return text

    def to_json(self, hidden_visibility: str = "visible") -> dict:
        tests = []
        for i, t in enumerate(self.tests, 1):
            tests.append(
                {
                    "name": t.name,
                    "number": str(i),
                    "score": t.points,
                    "max_score": t.max_points,
                    "status": "passed"
                    if t.passed
                    else "failed",  # Gradescope's word, not a verdict
                    "output": t.message,
                    "visibility": "visible" if t.suite == "public" else hidden_visibility,
                    "tags": [t.suite],
                    "verdict": t.verdict,
                    "points": t.points,
                    "max_points": t.max_points,
                    "message": t.message,
                    "function": t.function,
                    "details": t.details,
                    "duration": t.duration,
                    "seed": t.seed,
                    "requirements": t.requirements,
                }
            )
        return {
            "score": self.score if not self.not_graded else None,
            "max_score": self.max_score,
            "execution_time": round(self.execution_time, 3),
            "output": self.summary(),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "pgrader": {
                "student": self.student,
                "exercise": self.exercise,
                "raw_score": self.raw_score if not self.not_graded else None,
                "not_graded": self.not_graded,
                "late_days": self.late_days,
                "penalty": self.penalty,
                "error": self.error,
                "seed": self.seed,
                "seeds": {t.function: t.seed for t in self.tests if t.seed is not None},
                "sandbox": self.sandbox,
                "grader_version": self.grader_version,
                "graded_at": self.graded_at,
                "content_hash": self.content_hash,
                "suspicion": self.suspicion,
            },
        }

    def write(self, path: Path, hidden_visibility: str = "visible") -> None:
        path.write_text(json.dumps(self.to_json(hidden_visibility), indent=1))

    @classmethod
    def read(cls, path: Path) -> SubmissionResult:
        return cls.from_json(json.loads(path.read_text()))

    @classmethod
    def from_json(cls, data: dict) -> SubmissionResult:
        meta = data["pgrader"]
        tests = [
            TestResult(
                name=t["name"],
                function=t["function"],
                suite=t["tags"][0],
                verdict=t["verdict"],
                points=t["points"],
                max_points=t["max_points"],
                message=t["message"],
                details=t["details"],
                duration=t["duration"],
                seed=t["seed"],
                requirements=list(t.get("requirements") or []),
            )
            for t in data["tests"]
        ]
        return cls(
            student=meta["student"],
            exercise=meta["exercise"],
            tests=tests,
            max_score=data["max_score"],
            error=meta["error"],
            late_days=meta["late_days"],
            penalty=meta["penalty"],
            seed=meta["seed"],
            execution_time=data["execution_time"],
            sandbox=meta["sandbox"],
            content_hash=meta["content_hash"],
            suspicion=meta.get("suspicion") or {},
            graded_at=meta["graded_at"],
            grader_version=meta["grader_version"],
            not_graded=str(meta.get("not_graded") or ""),
        )


def score_records(exercise: Exercise, records: list[TestRecord]) -> list[TestResult]:
    """Weight test records into points that add up to the exercise's points."""
    weights = [exercise.weight(r.function) for r in records]
    total = sum(weights) or 1.0
    results = []
    for record, weight in zip(records, weights):
        max_points = exercise.points * weight / total
        results.append(
            TestResult(
                name=record.name,
                function=record.function,
                suite=record.visibility,
                verdict=record.status,
                points=max_points if earns_points(record.status) else 0.0,
                max_points=max_points,
                message=record.message,
                details=record.details,
                duration=record.duration,
                seed=record.seed,
                requirements=list(record.requirements),
            )
        )
    return results


def mark_not_graded(result: SubmissionResult, exercise: Exercise) -> None:
    """An exercise that needs a GPU, graded where tests could not run for want of one, gets no
    score: "not graded yet: needs a GPU" (its tests scored nothing and blamed nobody, so a number
    would be the same for correct and wrong kernels)."""
    if exercise.runtime.gpu and any(
        t.verdict == Outcome.NOT_RUN and NO_GPU_TEST in t.message for t in result.tests
    ):
        result.not_graded = NEEDS_GPU


def late_days(received: dt.datetime | None, due: dt.datetime | None) -> int:
    """Whole days (rounded up) between the due date and the time the submission was received."""
    if received is None or due is None or received <= due:
        return 0
    seconds = (received - due).total_seconds()
    return int(-(-seconds // 86400))


def apply_late_policy(result: SubmissionResult, policy: LatePolicy, days: int) -> None:
    result.late_days = days
    result.penalty = policy.penalty(days)
