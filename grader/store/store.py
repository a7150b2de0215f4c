"""The `Store` API: record submissions and gradings exactly once, keep history, read it back.

Every method is one short transaction. Exactly once: a grading is recorded only if its
request has not graded that submission yet (and, for a plain grade-all, only if the
submission has no current grading), checked and written in one transaction that no other
writer can interleave with. A lease per exercise keeps a second grader process off an
exercise another live process is grading; a lease whose process died is taken over.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from grader.errors import GraderError
from grader.procs import alive
from grader.results import SubmissionResult
from grader.store.engine import BUSY_SECONDS, make_engine, migrate
from grader.store.models import Audit, Grading, Lease, Request, Student, Submission, utcnow

LEASE_STALE = dt.timedelta(minutes=30)  # a lease not renewed for this long is abandoned


class StoreBusy(GraderError):
    """Another grader holds the store or the exercise; nothing was written."""


@dataclass(frozen=True)
class Current:
    """A student's latest submission of an exercise and its current grading (None: not graded)."""

    student: str
    submission: Submission
    grading: Grading | None

    def result(self) -> SubmissionResult | None:
        return SubmissionResult.from_json(self.grading.results) if self.grading else None


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.actor = _actor()
        with self._translate():
            migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ transactions

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                raise StoreBusy(f"The store {self.engine.url.render_as_string()} stayed locked by "
                                f"another process for more than {BUSY_SECONDS:g} s; nothing was "
                                "lost: run the command again when that process is done.") from None
            raise

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._translate(), Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    def _audit(self, s: Session, action: str, exercise: str = "", student: str = "",
               detail: str = "") -> None:
        s.add(Audit(actor=self.actor, action=action, exercise=exercise, student=student,
                    detail=detail))

    def audit(self, action: str, exercise: str = "", student: str = "", detail: str = "") -> None:
        with self._tx() as s:
            self._audit(s, action, exercise, student, detail)

    # ------------------------------------------------------------ requests and leases

    def open_request(self, exercise: str, kind: str, students: list[str] | None = None,
                     out_dir: str = "", resume: bool = True) -> tuple[Request, bool]:
        """A new request, or (resume) the unfinished one of the same kind and students."""
        wanted = sorted(students) if students else None
        with self._tx() as s:
            if resume:
                for req in s.scalars(select(Request).where(
                        Request.exercise == exercise, Request.kind == kind,
                        Request.finished_at.is_(None)).order_by(Request.created_at.desc())):
                    if req.students == wanted:
                        self._audit(s, "request-resumed", exercise, detail=req.id)
                        return req, True
            req = Request(id=str(uuid.uuid4()), exercise=exercise, kind=kind, students=wanted,
                          out_dir=out_dir, actor=self.actor)
            s.add(req)
            self._audit(s, "request-opened", exercise, detail=f"{kind} {req.id}")
            return req, False

    def finish_request(self, request_id: str) -> None:
        with self._tx() as s:
            req = s.get(Request, request_id)
            req.finished_at = utcnow()
            self._audit(s, "request-finished", req.exercise, detail=request_id)

    def last_out_dir(self, exercise: str) -> str:
        with self._tx() as s:
            return s.scalar(select(Request.out_dir).where(
                Request.exercise == exercise, Request.out_dir != "").order_by(
                Request.created_at.desc()).limit(1)) or ""

    @contextmanager
    def lease(self, exercise: str) -> Iterator[None]:
        """Hold `exercise` for this process; StoreBusy if a live grader holds it."""
        host, pid = socket.gethostname(), os.getpid()
        with self._tx() as s:
            held = s.get(Lease, exercise)
            if held is not None:
                dead = held.host == host and not alive(held.pid)
                if not dead and utcnow() - held.heartbeat_at < LEASE_STALE:
                    raise StoreBusy(
                        f"Another grader is already grading {exercise} in this store: "
                        f"{held.actor}, since {held.acquired_at:%Y-%m-%d %H:%M:%S} UTC. "
                        "Nothing was graded twice; wait until it finishes, then run again.")
                self._audit(s, "lease-taken-over", exercise, detail=f"from {held.actor}")
                s.delete(held)
                s.flush()
            s.add(Lease(exercise=exercise, actor=self.actor, host=host, pid=pid))
        try:
            yield
        finally:
            with self._tx() as s:
                s.execute(delete(Lease).where(Lease.exercise == exercise, Lease.host == host,
                                              Lease.pid == pid))

    # ------------------------------------------------------------ submissions and gradings

    def record_submission(self, student: str, exercise: str, content_hash: str,
                          received_at: dt.datetime, late_days: int, path: str) -> Submission:
        """The submission row (created once per student, exercise and content)."""
        with self._tx() as s:
            who = s.scalar(select(Student).where(Student.name == student))
            if who is None:
                who = Student(name=student)
                s.add(who)
                s.flush()
            sub = s.scalar(select(Submission).where(
                Submission.student_id == who.id, Submission.exercise == exercise,
                Submission.content_hash == content_hash))
            if sub is None:
                sub = Submission(student_id=who.id, exercise=exercise, content_hash=content_hash,
                                 received_at=received_at, late_days=late_days, path=path)
                s.add(sub)
                s.flush()
                self._audit(s, "submission-received", exercise, student,
                            f"{content_hash[:12]} received {received_at.isoformat()}")
            elif sub.path != path:
                sub.path = path
            return sub

    def record_grading(self, submission: Submission, request: Request, result: SubmissionResult,
                       hidden_visibility: str = "visible", image_id: str = "") -> bool:
        """Record `result` as the current grading; False (nothing written) if already graded."""
        with self._tx() as s:
            done = select(Grading.id).where(Grading.submission_id == submission.id)
            if request.kind != "regrade":
                done = done.where(Grading.is_current)
            else:
                done = done.where(Grading.request_id == request.id)
            if s.scalar(done.limit(1)) is not None:
                return False
            s.execute(update(Grading).where(Grading.submission_id == submission.id,
                                            Grading.is_current).values(is_current=False))
            data = result.to_json(hidden_visibility)
            s.add(Grading(submission_id=submission.id, request_id=request.id,
                          grader_version=result.grader_version, image_id=image_id,
                          seed=result.seed, seeds=data["pgrader"]["seeds"], score=result.raw_score,
                          max_score=result.max_score, late_days=result.late_days,
                          penalty=result.penalty, final=result.score,
                          status="refused" if result.error else "graded", results=data,
                          is_current=True))
            s.execute(update(Lease).where(Lease.exercise == submission.exercise,
                                          Lease.pid == os.getpid()).values(heartbeat_at=utcnow()))
            self._audit(s, "graded", submission.exercise, result.student,
                        f"{result.score:g}/{result.max_score:g} request {request.id}")
            return True

    def pending(self, request: Request, submissions: list[Submission]) -> list[Submission]:
        """Those of `submissions` that `request` still has to grade."""
        ids = [sub.id for sub in submissions]
        with self._tx() as s:
            q = select(Grading.submission_id).where(Grading.submission_id.in_(ids))
            q = q.where(Grading.request_id == request.id) if request.kind == "regrade" \
                else q.where(Grading.is_current)
            done = set(s.scalars(q))
        return [sub for sub in submissions if sub.id not in done]

    def current(self, exercise: str, students: list[str] | None = None) -> list[Current]:
        """Each student's latest submission of `exercise` with its current grading, by name."""
        with self._tx() as s:
            latest = (select(Submission.student_id, func.max(Submission.id).label("sid"))
                      .where(Submission.exercise == exercise).group_by(Submission.student_id)
                      .subquery())
            q = (select(Student.name, Submission, Grading)
                 .join(latest, latest.c.sid == Submission.id)
                 .join(Student, Student.id == Submission.student_id)
                 .outerjoin(Grading, (Grading.submission_id == Submission.id) & Grading.is_current)
                 .order_by(Student.name))
            if students:
                q = q.where(Student.name.in_(students))
            return [Current(name, sub, grading) for name, sub, grading in s.execute(q)]

    def not_graded_reasons(self, exercise: str) -> dict[str, str]:
        """Why each student whose latest submission has no grading was not graded (the last
        "not-graded" entry of the audit since that submission, e.g. "needs a GPU")."""
        ungraded = {c.student: c.submission.created_at for c in self.current(exercise)
                    if c.grading is None}
        if not ungraded:
            return {}
        with self._tx() as s:
            rows = s.execute(select(Audit.student, Audit.detail, Audit.at).where(
                Audit.exercise == exercise, Audit.action == "not-graded",
                Audit.student.in_(list(ungraded))).order_by(Audit.id))
            return {student: detail for student, detail, at in rows if at >= ungraded[student]}

    def history(self, exercise: str, student: str | None = None) -> list[tuple[str, Grading]]:
        """Every grading of `exercise` (oldest first), with the student's name."""
        with self._tx() as s:
            q = (select(Student.name, Grading).join(Submission, Grading.submission_id == Submission.id)
                 .join(Student, Student.id == Submission.student_id)
                 .where(Submission.exercise == exercise).order_by(Grading.id))
            if student:
                q = q.where(Student.name == student)
            return [(name, g) for name, g in s.execute(q)]

    def previous(self, grading: Grading) -> Grading | None:
        """The grading of the same submission, or else of the same student, before `grading`."""
        with self._tx() as s:
            sub = s.get(Submission, grading.submission_id)
            same_student = select(Submission.id).where(Submission.student_id == sub.student_id,
                                                       Submission.exercise == sub.exercise)
            return s.scalar(select(Grading).where(Grading.submission_id.in_(same_student),
                                                  Grading.id < grading.id)
                            .order_by(Grading.id.desc()).limit(1))

    def gradings_of(self, request_id: str) -> list[Grading]:
        with self._tx() as s:
            return list(s.scalars(select(Grading).where(Grading.request_id == request_id)))

