"""Grading jobs: durable rows in the store, claimed by the grading threads of every
`grader serve` process that shares the store.

Every upload (a new attempt) and every attempt's part of a portal regrade is a `Job` row,
written before anyone is told about it, so nothing is lost when a server stops. Grading
threads claim the oldest job that is due atomically (SQLite: the store's write lock;
PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`), so with several processes on one store each
job is graded by exactly one of them. `Grader.hand_over` only wakes this process's threads
early; they also look for work every POLL seconds, so a job queued by another process, or
left behind by one that died, is picked up.

The process that claimed a job (`owner`: host, pid and the pid's start time) keeps its
heartbeat fresh while it grades. A job whose owner is gone (on this host: its process no
longer runs; on any host: no heartbeat for STALE) goes back to the queue. A platform failure
ends as *not graded yet* (never a score, the reason kept for instructors) and is retried
after RETRY_FIRST, doubling up to RETRY_MAX; a restart retries it at once. An attempt at a GPU
exercise graded where there is no GPU ("needs a GPU") is retried only at a restart. Each thread grades
with a lower CPU priority (GRADING_NICE), inherited by the sandbox processes it starts, so
pages stay quick while a deadline's uploads are graded.

The result is recorded by `Store.record_grading`, so a portal attempt is an ordinary store
submission for `grader regrade` and `grader export`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
from collections import Counter
from pathlib import Path
from typing import cast

from sqlalchemy import CursorResult, Result, and_, func, or_, select, update

from grader.grade import grade_submission
from grader.portal.models import GRADED, NOT_GRADED, QUEUED, RUNNING, Job
from grader.procs import alive, started
from grader.states import NEEDS_GPU
from grader.store import Store
from grader.store.models import Grading, Request, Submission, utcnow

log = logging.getLogger("grader.portal")
FINAL = (GRADED, NOT_GRADED)
POLL = 2.0  # seconds between looks for jobs queued elsewhere
HEARTBEAT = 10.0  # seconds between heartbeats of the jobs being graded
STALE = dt.timedelta(seconds=90)  # no heartbeat for this long: the owner is gone
RETRY_FIRST = dt.timedelta(minutes=1)  # a platform failure is retried after this...
RETRY_MAX = dt.timedelta(minutes=30)  # ...doubled each time, up to this
GRADING_NICE = 10  # CPU priority of grading threads and their sandboxes


def this_process() -> str:
    return f"{socket.gethostname()} {os.getpid()} {started(os.getpid())}"


def owner_gone(owner: str) -> bool:
    """True when `owner` is a process of this host that no longer runs."""
    parts = owner.split(" ")
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False  # another host's: only a stale heartbeat tells
    pid = int(parts[1])
    return not alive(pid) or started(pid) != parts[2]


def retry_delay(tries: int) -> dt.timedelta:
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, tries - 1))


def _rows(result: Result) -> int:
    """The rows an UPDATE changed."""
    return cast(CursorResult, result).rowcount


class Jobs:
    """The job rows: create, claim, finish, recover, list."""

    def __init__(self, store: Store):
        self.store = store

    def create(self, kind: str, exercise: str, subs: list[tuple[str, Submission]]) -> list[Job]:
        """Queued jobs for `(student, submission)` pairs under one new request."""
        request, _ = self.store.open_request(
            exercise,
            "regrade" if kind == "regrade" else "portal",
            sorted({st for st, _ in subs}),
            resume=False,
        )
        with self.store._tx() as s:
            jobs = [
                Job(
                    submission_id=sub.id,
                    request_id=request.id,
                    student=student,
                    exercise=exercise,
                    kind=kind,
                    status=QUEUED,
                    problem="",
                )
                for student, sub in subs
            ]
            s.add_all(jobs)
        return jobs

    def get(self, job_id: int) -> Job | None:
        with self.store._read() as s:
            return s.get(Job, job_id)

    def submission(self, job: Job) -> Submission:
        with self.store._read() as s:
            return s.get_one(Submission, job.submission_id)

    @staticmethod
    def _due(now: dt.datetime):
        return or_(
            Job.status == QUEUED,
            and_(Job.status == NOT_GRADED, Job.retry_at.is_not(None), Job.retry_at <= now),
        )

    def claim(self, owner: str) -> Job | None:
        """The oldest job due (queued, or a failure whose retry time came), now running for
        `owner`; None when there is none (or another process took it first)."""
        now = utcnow()
        with self.store._read() as s:  # looking takes no write lock
            if s.scalar(select(Job.id).where(self._due(now)).limit(1)) is None:
                return None
        with self.store._tx() as s:
            job = s.scalar(
                select(Job)
                .where(self._due(now))
                .order_by(Job.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if job is None:
                return None
            job.status, job.owner, job.problem = RUNNING, owner, ""
            job.started_at = job.heartbeat_at = now
            job.finished_at = job.retry_at = None
            return job

    def finish(
        self, job: Job, status: str, grading_id: int | None = None, problem: str = ""
    ) -> None:
        with self.store._tx() as s:
            row = s.get_one(Job, job.id)
            row.status, row.grading_id, row.problem = status, grading_id, problem[:2000]
            row.finished_at = utcnow()
            if status == NOT_GRADED:
                row.tries += 1
                # needs a GPU this machine lacks: trying again here gives the same answer; a
                # server's next start (perhaps on a machine with a GPU) tries it again
                row.retry_at = (
                    None if problem == NEEDS_GPU else row.finished_at + retry_delay(row.tries)
                )
                self.store._audit(s, "not-graded", job.exercise, job.student, problem[:1000])
            left = s.scalar(
                select(func.count()).where(
                    Job.request_id == job.request_id, Job.status.not_in(FINAL)
                )
            )
            if not left and status == GRADED:
                req = s.get_one(Request, job.request_id)
                req.finished_at = req.finished_at or utcnow()

    def release(self, job: Job) -> None:
        """Back to the queue, unclaimed (its server is stopping)."""
        with self.store._tx() as s:
            s.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == RUNNING)
                .values(status=QUEUED, owner="", started_at=None)
            )

    def beat(self, owner: str) -> None:
        with self.store._tx() as s:
            s.execute(
                update(Job)
                .where(Job.owner == owner, Job.status == RUNNING)
                .values(heartbeat_at=utcnow())
            )

    def recover(self, retry_failed: bool = False) -> int:
        """Put back in the queue the running jobs whose owner is gone; with `retry_failed`
        (a server starting), make every *not graded yet* job due now. How many."""
        stale = utcnow() - STALE
        with self.store._read() as s:
            running = list(
                s.execute(select(Job.id, Job.owner, Job.heartbeat_at).where(Job.status == RUNNING))
            )
        lost = [
            i for i, owner, beat in running if owner_gone(owner) or beat is None or beat < stale
        ]
        with self.store._tx() as s:
            n = (
                _rows(
                    s.execute(
                        update(Job)
                        .where(Job.id.in_(lost), Job.status == RUNNING)
                        .values(status=QUEUED, owner="", started_at=None)
                    )
                )
                if lost
                else 0
            )
            if retry_failed:
                n += _rows(
                    s.execute(update(Job).where(Job.status == NOT_GRADED).values(retry_at=utcnow()))
                )
        return n

    def of_submissions(self, ids: list[int]) -> dict[int, list[Job]]:
        """The jobs of each submission, oldest first."""
        with self.store._read() as s:
            out: dict[int, list[Job]] = {}
            for job in s.scalars(select(Job).where(Job.submission_id.in_(ids)).order_by(Job.id)):
                out.setdefault(job.submission_id, []).append(job)
            return out

    def uploads_since(self, student: str, exercise: str, since: dt.datetime) -> list[dt.datetime]:
        with self.store._read() as s:
            return list(
                s.scalars(
                    select(Job.created_at)
                    .where(
                        Job.student == student,
                        Job.exercise == exercise,
                        Job.kind == "upload",
                        Job.created_at >= since,
                    )
                    .order_by(Job.created_at)
                )
            )

    def queue_state(self) -> dict[str, Counter]:
        """exercise -> Counter of the statuses of its jobs."""
        with self.store._read() as s:
            rows = s.execute(
                select(Job.exercise, Job.status, func.count()).group_by(Job.exercise, Job.status)
            )
            out: dict[str, Counter] = {}
            for exercise, status, n in rows:
                out.setdefault(exercise, Counter())[status] = n
            return out


class Grader:
    """Grades jobs through the platform: grading threads claim them from the store."""

    def __init__(
        self, live, store: Store, backend: str, sandbox_info: dict, workers: int, remote=None
    ):
        self.live, self.store, self.backend = live, store, backend
        self.sandbox_info = sandbox_info
        self.remote = remote  # a grader.distributed.remote.RemoteGrader, or None: grade here
        self.jobs = Jobs(store)
        self.workers = workers
        self.owner = this_process()
        self._wake = threading.Condition()
        self._handed = 0  # hand-overs so far (under _wake): a thread waits only if none came
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.graded: list = []  # called with (exercise, student) after each graded job

    def start(self) -> int:
        """Start the grading threads and the heartbeat; how many jobs a previous server left
        running or failed (all graded again now)."""
        recovered = self.jobs.recover(retry_failed=True)
        targets = [(self._work, f"grader-worker-{i}") for i in range(self.workers)]
        for target, name in targets + [(self._beat, "grader-heartbeat")]:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return recovered

    def stop(self) -> None:
        """Stop grading: the test runs in progress end now (their jobs stay running, so another
        process on the store, or the next start, grades them again)."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self.remote is not None:
            self.remote.close()
        else:
            from grader.judge import runner

            runner.terminate_all()

    def hand_over(self, job_id: int | None = None) -> None:
        """A job was queued: wake a grading thread of this process (any process may take it)."""
        with self._wake:
            self._handed += 1
            self._wake.notify()

    def _work(self) -> None:
        try:  # a thread's own priority on Linux; the sandboxes it starts inherit it
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), GRADING_NICE)
        except (OSError, AttributeError):
            pass
        while not self._stopping.is_set():
            with self._wake:
                handed = self._handed
            try:
                job = self.jobs.claim(self.owner)
            except Exception:  # noqa: BLE001 - the store is away for a while: try again
                log.exception("claiming a job")
                job = None
            if job is None:
                with self._wake:
                    # a job handed over while we looked (after the look found none, before
                    # this wait) would otherwise wait for the next POLL: look again at once
                    if self._handed == handed and not self._stopping.is_set():
                        self._wake.wait(POLL)
                continue
            try:
                self.run(job)
            except Exception:  # noqa: BLE001 - a worker must survive anything
                log.exception("job %s", job.id)

    def _beat(self) -> None:
        while not self._stopping.wait(HEARTBEAT):
            try:
                self.jobs.beat(self.owner)
                if self.jobs.recover():
                    with self._wake:
                        self._wake.notify_all()
            except Exception:  # noqa: BLE001
                log.exception("heartbeat")

    def run(self, job: Job) -> None:
        """Grade one claimed job and record the outcome (a run this server stopped goes back
        to the queue: no failure of the platform's to count)."""
        try:
            status, grading_id, problem = self._grade(job)
        except Exception as exc:  # noqa: BLE001 - a platform failure, never the student's 0
            status, grading_id, problem = NOT_GRADED, None, f"{type(exc).__name__}: {exc}"
        if status != GRADED and self._stopping.is_set():
            self.jobs.release(job)
            return
        self.jobs.finish(job, status, grading_id, problem)
        if status == GRADED:
            for listener in self.graded:
                listener(job.exercise, job.student)

    def _grade(self, job: Job) -> tuple[str, int | None, str]:
        course = self.live.course
        exercise = course.exercise(job.exercise)
        ext = self.store.extension(job.exercise, job.student)
        if ext is not None:
            exercise = dataclasses.replace(exercise, due=ext.due)
        with self.store._tx() as s:
            sub = s.get_one(Submission, job.submission_id)
            request = s.get_one(Request, job.request_id)
            current = s.scalar(
                select(Grading.id).where(Grading.submission_id == sub.id, Grading.is_current)
            )
        if job.kind == "upload" and current is not None:  # graded before a crash: keep it
            return GRADED, current, ""
        if self.remote is not None:
            result = self.remote.grade(
                exercise,
                job.student,
                Path(sub.path),
                sub.received_at,
                key=f"portal request {request.id}",
            )
        else:
            result = grade_submission(
                course,
                exercise,
                Path(sub.path),
                student=job.student,
                backend=self.backend,
                received=sub.received_at,
                sandbox_info=self.sandbox_info,
            )
        if result.platform_failed:
            failed = [t.name for t in result.tests if t.verdict == "grader-error"]
            return NOT_GRADED, None, "grader error in: " + ", ".join(failed)
        if result.not_graded:  # needs a GPU this machine lacks: no score, graded again later
            return NOT_GRADED, None, result.not_graded
        self.store.record_grading(
            sub, request, result, exercise.hidden_visibility, self.sandbox_info.get("image_id", "")
        )
        with self.store._tx() as s:
            q = select(Grading.id).where(Grading.submission_id == sub.id)
            q = (
                q.where(Grading.request_id == request.id)
                if job.kind == "regrade"
                else q.where(Grading.is_current)
            )
            return GRADED, s.scalar(q.order_by(Grading.id.desc()).limit(1)), ""
