"""Grading jobs: durable records in the store, and the in-process worker pool that runs them.

Every upload (and every student's part of a portal regrade) is a `Job` row, written before
the job is handed over, so nothing is lost when `grader serve` stops: on start, jobs left
`running` by a killed server go back to `queued` and every queued job is handed over again.
`Grader.hand_over` is the one place a job leaves the web process, to the in-process pool of
grading threads. Each thread grades through `grade_submission`, or, with a broker
(`grader serve --distributed`), sends the job to `grader worker`s and waits for it
(`grader.distributed.remote`); either way the result is recorded by `Store.record_grading`,
so a portal submission is an ordinary store submission for `grader regrade` and
`grader export`. A platform failure ends as
`not graded` (never a 0), with the reason kept for the instructor, and is retried at the
next start.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select, update

from grader.course import Course
from grader.grade import grade_submission
from grader.portal.models import GRADED, NOT_GRADED, QUEUED, RUNNING, Job
from grader.store import Store
from grader.store.models import Grading, Request, Submission, utcnow

log = logging.getLogger("grader.portal")
FINAL = (GRADED, NOT_GRADED)


class Jobs:
    """The job rows: create, claim, finish, list."""

    def __init__(self, store: Store):
        self.store = store

    def create(self, kind: str, exercise: str, subs: list[tuple[str, Submission]]) -> list[Job]:
        """Queued jobs for `(student, submission)` pairs under one new request."""
        request, _ = self.store.open_request(exercise, "regrade" if kind == "regrade" else "portal",
                                             sorted(st for st, _ in subs), resume=False)
        with self.store._tx() as s:
            jobs = [Job(submission_id=sub.id, request_id=request.id, student=student,
                        exercise=exercise, kind=kind, status=QUEUED, problem="")
                    for student, sub in subs]
            s.add_all(jobs)
        return jobs

    def get(self, job_id: int) -> Job | None:
        with self.store._tx() as s:
            return s.get(Job, job_id)

    def claim(self, job_id: int) -> Job | None:
        """queued → running, atomically; None if the job is not queued (another worker has it)."""
        with self.store._tx() as s:
            done = s.execute(update(Job).where(Job.id == job_id, Job.status == QUEUED)
                             .values(status=RUNNING, started_at=utcnow()))
            return s.get(Job, job_id) if done.rowcount == 1 else None

    def finish(self, job: Job, status: str, grading_id: int | None = None, problem: str = "") -> None:
        with self.store._tx() as s:
            s.execute(update(Job).where(Job.id == job.id).values(
                status=status, grading_id=grading_id, problem=problem[:2000],
                finished_at=utcnow()))
            left = s.scalar(select(func.count()).where(Job.request_id == job.request_id,
                                                       Job.status.not_in(FINAL)))
            if status == NOT_GRADED:
                self.store._audit(s, "not-graded", job.exercise, job.student, problem[:1000])
            if not left and status == GRADED:
                req = s.get(Request, job.request_id)
                req.finished_at = req.finished_at or utcnow()

    def resume(self) -> list[int]:
        """Every queued id, oldest first, after putting back in the queue the jobs a stopped
        server left running and those the platform failed to grade (retried at each start)."""
        with self.store._tx() as s:
            s.execute(update(Job).where(Job.status.in_((RUNNING, NOT_GRADED))).values(
                status=QUEUED, started_at=None, finished_at=None, problem=""))
            return list(s.scalars(select(Job.id).where(Job.status == QUEUED).order_by(Job.id)))

    def of(self, student: str, exercise: str | None = None) -> list[Job]:
        """A student's uploads (of one exercise), newest first."""
        with self.store._tx() as s:
            q = select(Job).where(Job.student == student, Job.kind == "upload")
            if exercise:
                q = q.where(Job.exercise == exercise)
            return list(s.scalars(q.order_by(Job.id.desc())))

    def uploads_since(self, student: str, since: dt.datetime) -> list[dt.datetime]:
        with self.store._tx() as s:
            return list(s.scalars(select(Job.created_at).where(
                Job.student == student, Job.kind == "upload", Job.created_at >= since)
                .order_by(Job.created_at)))

    def queue_state(self) -> dict[str, Counter]:
        """exercise -> Counter of job statuses."""
        with self.store._tx() as s:
            rows = s.execute(select(Job.exercise, Job.status, func.count()).group_by(
                Job.exercise, Job.status))
            out: dict[str, Counter] = {}
            for exercise, status, n in rows:
                out.setdefault(exercise, Counter())[status] = n
            return out

    def grading(self, job: Job) -> Grading | None:
        if job.grading_id is None:
            return None
        with self.store._tx() as s:
            return s.get(Grading, job.grading_id)

    def submission(self, job: Job) -> Submission:
        with self.store._tx() as s:
            return s.get(Submission, job.submission_id)


class Grader:
    """Grades jobs through the platform: `hand_over(id)` queues one, worker threads run them."""

    def __init__(self, course: Course, store: Store, backend: str, sandbox_info: dict,
                 workers: int, remote=None):
        self.course, self.store, self.backend = course, store, backend
        self.sandbox_info = sandbox_info
        self.remote = remote  # a grader.distributed.remote.RemoteGrader, or None: grade here
        self.jobs = Jobs(store)
        self.workers = workers
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def start(self) -> int:
        """Start the workers and hand over what a previous server left queued; how many."""
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"grader-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        pending = self.jobs.resume()
        for job_id in pending:
            self.hand_over(job_id)
        return len(pending)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        if self.remote is not None:
            self.remote.close()

    def hand_over(self, job_id: int) -> None:
        """The one place a recorded job goes to be graded (in-process pool here)."""
        self._queue.put(job_id)

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self.run(job_id)
            except Exception:  # noqa: BLE001 - a worker must survive anything
                log.exception("job %s", job_id)

    def run(self, job_id: int) -> None:
        """Grade one job (if still queued) and record the outcome."""
        job = self.jobs.claim(job_id)
        if job is None:
            return
        try:
            status, grading_id, problem = self._grade(job)
        except Exception as exc:  # noqa: BLE001 - a platform failure, never the student's 0
            status, grading_id, problem = NOT_GRADED, None, f"{type(exc).__name__}: {exc}"
        self.jobs.finish(job, status, grading_id, problem)

    def _grade(self, job: Job) -> tuple[str, int | None, str]:
        exercise = self.course.exercise(job.exercise)
        with self.store._tx() as s:
            sub = s.get(Submission, job.submission_id)
            request = s.get(Request, job.request_id)
            current = s.scalar(select(Grading.id).where(Grading.submission_id == sub.id,
                                                        Grading.is_current))
        if job.kind == "upload" and current is not None:  # the same files again: same grading
            return GRADED, current, ""
        if self.remote is not None:
            result = self.remote.grade(exercise, job.student, Path(sub.path), sub.received_at,
                                       key=f"portal request {request.id}")
        else:
            result = grade_submission(self.course, exercise, Path(sub.path), student=job.student,
                                      backend=self.backend, received=sub.received_at,
                                      sandbox_info=self.sandbox_info)
        if result.platform_failed:
            failed = [t.name for t in result.tests if t.verdict == "grader-error"]
            return NOT_GRADED, None, "grader error in: " + ", ".join(failed)
        if result.not_graded:  # needs a GPU this machine lacks: no score, graded again later
            return NOT_GRADED, None, result.not_graded
        self.store.record_grading(sub, request, result, exercise.hidden_visibility,
                                  self.sandbox_info.get("image_id", ""))
        with self.store._tx() as s:
            q = select(Grading.id).where(Grading.submission_id == sub.id)
            q = q.where(Grading.request_id == request.id) if job.kind == "regrade" \
                else q.where(Grading.is_current)
            return GRADED, s.scalar(q.order_by(Grading.id.desc()).limit(1)), ""
