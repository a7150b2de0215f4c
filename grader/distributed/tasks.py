"""The grading task that workers run.

A job whose result is already stored (it ran, then its worker died before acknowledging it,
so it was handed out again) returns that result without grading again. A platform failure
(the sandbox cannot start, the Docker engine does not answer, the test run broke) is retried
with exponential backoff and, if it persists, reported as not graded (retryable): never as a
score. A job this worker cannot take (unknown exercise, another course) is not graded either.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from celery import states

from grader.distributed.jobs import BadJob, fingerprint, unpack
from grader.errors import ConfigError, GraderError, SandboxUnavailable
from grader.grade import GradingFailed, grade_submission
from grader.protocol import Outcome

TASK = "pgrader.grade"  # the grading task's name: workers register it, submitters send it

_SERVING: dict = {}  # set by `serve` in the worker's main process, inherited by its pool


def serve(course, backend: str, sandbox_info: dict) -> None:
    """What this worker grades with: its course, sandbox backend and the backend's facts."""
    _SERVING.update(course=course, backend=backend, sandbox_info=sandbox_info)


def not_graded(problem: str, retryable: bool) -> dict:
    return {"status": "not-graded", "retryable": retryable, "problem": problem[:2000]}


def register(app, settings) -> None:
    @app.task(
        name=TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=settings.retries,
    )
    def grade(self, job):
        done = already_graded(self.backend, self.request.id)
        if done is not None:
            return done
        outcome, problem = run_job(job)
        if outcome is not None:
            return outcome
        if self.request.retries < settings.retries:
            raise self.retry(countdown=settings.retry_backoff * 2**self.request.retries)
        return not_graded(
            f"the platform failed {self.request.retries + 1} times: {problem}", retryable=True
        )


def already_graded(backend, task_id: str) -> dict | None:
    meta = backend.get_task_meta(task_id)
    result = meta.get("result")
    if (
        meta.get("status") == states.SUCCESS
        and isinstance(result, dict)
        and result.get("status") == "graded"
    ):
        return result
    return None


def run_job(job) -> tuple[dict | None, str]:
    """(the outcome to return, "") or (None, the platform failure to retry)."""
    if not _SERVING:
        return not_graded("this process is not a configured grader worker", False), ""
    course = _SERVING["course"]
    with tempfile.TemporaryDirectory(prefix="pgrader-job-") as tmp:
        try:
            job, src, received = unpack(job, Path(tmp))
            if job["course"] != course.name:
                return not_graded(
                    f"this worker serves the course {course.name!r}, not {job['course']!r}", False
                ), ""
            exercise = course.exercise(job["exercise"])
        except (BadJob, ConfigError) as exc:
            return not_graded(str(exc), False), ""
        if job.get("fingerprint") != fingerprint(exercise):
            return not_graded(
                f"this worker's copy of {exercise.slug} (tests, points or limits) "
                "differs from the submitter's: bring the course folders in step "
                "and run again",
                True,
            ), ""
        try:
            result = grade_submission(
                course,
                exercise,
                src,
                student=job["student"],
                backend=_SERVING["backend"],
                seed=job["seed"],
                received=received,
                sandbox_info=_SERVING["sandbox_info"],
            )
        except (GradingFailed, SandboxUnavailable) as exc:
            return None, str(exc)
        except GraderError as exc:
            return None, f"{type(exc).__name__}: {exc}"
    if result.platform_failed:
        return None, next(t.message for t in result.tests if t.verdict == Outcome.GRADER_ERROR)
    if result.not_graded:  # a worker on the gpu queue without a GPU: another one must grade it
        return not_graded(f"{result.not_graded}, and this worker has none", True), ""
    return {"status": "graded", "result": result.to_json("visible")}, ""
