"""The `Store` API: record attempts and gradings exactly once, keep history, read it back.

Every method is one short transaction. Exactly once: a grading is recorded only if its
request has not graded that submission yet (and, for a plain grade-all or an upload, only if
the submission has no current grading), checked and written in one transaction that no other
writer can interleave with. A lease per exercise keeps a second grader process off an
exercise another live process is grading; a lease whose process died is taken over.

Which attempt counts for a student is the exercise's rule (`counted_attempt`: `latest`, the
newest graded attempt, or `best`, the highest final score; a refused attempt counts only while
none is graded), unless an instructor's override gives the score. `counted` applies it for every page, export and regrade.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, defer, selectinload

from grader.errors import GraderError
from grader.procs import alive
from grader.results import SubmissionResult
from grader.store.engine import BUSY_SECONDS, make_engine, migrate
from grader.store.models import (
    Audit,
    Extension,
    Grading,
    Lease,
    Override,
    Request,
    SimilarityPair,
    SimilarityRun,
    Student,
    Submission,
    utcnow,
)

LEASE_STALE = dt.timedelta(minutes=30)  # a lease not renewed for this long is abandoned
REGRADES = ("regrade", "rescore")  # request kinds that grade an already graded submission again
RULES = ("latest", "best")


class StoreBusy(GraderError):
    """Another grader holds the store or the exercise; nothing was written."""


@dataclass(frozen=True)
class Current:
    """What counts for one student on one exercise: the counted attempt (`submission`) and its
    current grading, or, while no attempt is graded, the newest attempt and None; with the
    number of attempts, those not graded yet, and an instructor's override (which wins)."""

    student: str
    submission: Submission | None  # None: no attempt, only an override
    grading: Grading | None
    attempts: int = 1
    pending: int = 0  # attempts without a grading (queued, running or not graded yet)
    override: Override | None = None

    def result(self) -> SubmissionResult | None:
        return SubmissionResult.from_json(self.grading.results) if self.grading else None

    @property
    def final(self) -> float | None:
        """The score that counts (None: nothing graded and no override)."""
        if self.override is not None:
            return self.override.score
        return self.grading.final if self.grading else None


@dataclass(frozen=True)
class Attempt:
    """One attempt with every grading of it (oldest first, each with its request's kind);
    the gradings' `results` are not loaded."""

    submission: Submission
    gradings: list[tuple[Grading, str]]

    @property
    def grading(self) -> Grading | None:
        return next((g for g, _ in reversed(self.gradings) if g.is_current), None)


def pick(rule: str, graded: list[tuple[Submission, Grading]]) -> tuple[Submission, Grading] | None:
    """The counted attempt among `(attempt, its current grading)` pairs: `latest` the newest,
    `best` the highest final score (the newer of equal ones). A refused attempt (0) counts
    only when no attempt was graded: it never replaces a graded one."""
    graded = [sg for sg in graded if sg[1].status != "refused"] or graded
    if not graded:
        return None
    if rule == "best":
        return max(graded, key=lambda sg: (sg[1].final, sg[0].attempt))
    return max(graded, key=lambda sg: sg[0].attempt)


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
        self.reader = (
            make_engine(url, readonly=True) if self.engine.dialect.name == "sqlite" else self.engine
        )
        self.actor = _actor()
        with self._translate():
            migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    def __enter__(self) -> Store:
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
                raise StoreBusy(
                    f"The store {self.engine.url.render_as_string()} stayed locked by "
                    f"another process for more than {BUSY_SECONDS:g} s; nothing was "
                    "lost: run the command again when that process is done."
                ) from None
            raise

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._translate(), Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A transaction that only reads (on SQLite it does not wait for writers)."""
        with self._translate(), Session(self.reader, expire_on_commit=False) as s, s.begin():
            yield s

    def _audit(
        self, s: Session, action: str, exercise: str = "", student: str = "", detail: str = ""
    ) -> None:
        s.add(
            Audit(
                actor=self.actor, action=action, exercise=exercise, student=student, detail=detail
            )
        )

    def audit(self, action: str, exercise: str = "", student: str = "", detail: str = "") -> None:
        with self._tx() as s:
            self._audit(s, action, exercise, student, detail)

    # ------------------------------------------------------------ requests and leases

    def open_request(
        self,
        exercise: str,
        kind: str,
        students: list[str] | None = None,
        out_dir: str = "",
        resume: bool = True,
    ) -> tuple[Request, bool]:
        """A new request, or (resume) the unfinished one of the same kind and students."""
        wanted = sorted(students) if students else None
        with self._tx() as s:
            if resume:
                for req in s.scalars(
                    select(Request)
                    .where(
                        Request.exercise == exercise,
                        Request.kind == kind,
                        Request.finished_at.is_(None),
                    )
                    .order_by(Request.created_at.desc())
                ):
                    if req.students == wanted:
                        self._audit(s, "request-resumed", exercise, detail=req.id)
                        return req, True
            req = Request(
                id=str(uuid.uuid4()),
                exercise=exercise,
                kind=kind,
                students=wanted,
                out_dir=out_dir,
                actor=self.actor,
            )
            s.add(req)
            self._audit(s, "request-opened", exercise, detail=f"{kind} {req.id}")
            return req, False

    def finish_request(self, request_id: str) -> None:
        with self._tx() as s:
            req = s.get_one(Request, request_id)
            req.finished_at = utcnow()
            self._audit(s, "request-finished", req.exercise, detail=request_id)

    def last_out_dir(self, exercise: str) -> str:
        with self._tx() as s:
            return (
                s.scalar(
                    select(Request.out_dir)
                    .where(Request.exercise == exercise, Request.out_dir != "")
                    .order_by(Request.created_at.desc())
                    .limit(1)
                )
                or ""
            )

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
                        "Nothing was graded twice; wait until it finishes, then run again."
                    )
                self._audit(s, "lease-taken-over", exercise, detail=f"from {held.actor}")
                s.delete(held)
                s.flush()
            s.add(Lease(exercise=exercise, actor=self.actor, host=host, pid=pid))
        try:
            yield
        finally:
            with self._tx() as s:
                s.execute(
                    delete(Lease).where(
                        Lease.exercise == exercise, Lease.host == host, Lease.pid == pid
                    )
                )

    # ------------------------------------------------------------ submissions and gradings

    def record_submission(
        self,
        student: str,
        exercise: str,
        content_hash: str,
        received_at: dt.datetime,
        late_days: int,
        path: str,
        *,
        new_attempt: bool = True,
    ) -> Submission:
        """A new attempt (numbered after the student's others). With `new_attempt` False (a
        folder graded again by grade-all) the student's newest attempt is reused when it holds
        the same content."""
        for tries in range(5):  # two processes numbering the same student's attempt: retry
            try:
                with self._tx() as s:
                    return self._record_submission(
                        s,
                        student,
                        exercise,
                        content_hash,
                        received_at,
                        late_days,
                        path,
                        new_attempt,
                    )
            except IntegrityError:
                if tries == 4:
                    raise
        raise AssertionError("unreachable: the last try returns or raises")

    def _record_submission(
        self, s: Session, student, exercise, content_hash, received_at, late_days, path, new_attempt
    ) -> Submission:
        who = s.scalar(select(Student).where(Student.name == student))
        if who is None:
            who = Student(name=student)
            s.add(who)
            s.flush()
        newest = s.scalar(
            select(Submission)
            .where(Submission.student_id == who.id, Submission.exercise == exercise)
            .order_by(Submission.attempt.desc())
            .limit(1)
        )
        if not new_attempt and newest is not None and newest.content_hash == content_hash:
            if newest.path != path:
                newest.path = path
            return newest
        sub = Submission(
            student_id=who.id,
            exercise=exercise,
            attempt=newest.attempt + 1 if newest else 1,
            content_hash=content_hash,
            received_at=received_at,
            late_days=late_days,
            path=path,
        )
        s.add(sub)
        s.flush()
        self._audit(
            s,
            "submission-received",
            exercise,
            student,
            f"attempt {sub.attempt}: {content_hash[:12]} received {received_at.isoformat()}",
        )
        return sub

    def record_grading(
        self,
        submission: Submission,
        request: Request,
        result: SubmissionResult,
        hidden_visibility: str = "visible",
        image_id: str = "",
    ) -> bool:
        """Record `result` as the current grading; False (nothing written) if already graded."""
        with self._tx() as s:
            done = select(Grading.id).where(Grading.submission_id == submission.id)
            if request.kind not in REGRADES:
                done = done.where(Grading.is_current)
            else:
                done = done.where(Grading.request_id == request.id)
            if s.scalar(done.limit(1)) is not None:
                return False
            s.execute(
                update(Grading)
                .where(Grading.submission_id == submission.id, Grading.is_current)
                .values(is_current=False)
            )
            data = result.to_json(hidden_visibility)
            s.add(
                Grading(
                    submission_id=submission.id,
                    request_id=request.id,
                    grader_version=result.grader_version,
                    image_id=image_id,
                    seed=result.seed,
                    seeds=data["pgrader"]["seeds"],
                    score=result.raw_score,
                    max_score=result.max_score,
                    late_days=result.late_days,
                    penalty=result.penalty,
                    final=result.score,
                    status="refused" if result.error else "graded",
                    results=data,
                    is_current=True,
                )
            )
            s.execute(
                update(Lease)
                .where(Lease.exercise == submission.exercise, Lease.pid == os.getpid())
                .values(heartbeat_at=utcnow())
            )
            self._audit(
                s,
                "graded",
                submission.exercise,
                result.student,
                f"{result.score:g}/{result.max_score:g} request {request.id}",
            )
            return True

    def pending(self, request: Request, submissions: list[Submission]) -> list[Submission]:
        """Those of `submissions` that `request` still has to grade."""
        ids = [sub.id for sub in submissions]
        with self._tx() as s:
            q = select(Grading.submission_id).where(Grading.submission_id.in_(ids))
            q = (
                q.where(Grading.request_id == request.id)
                if request.kind in REGRADES
                else q.where(Grading.is_current)
            )
            done = set(s.scalars(q))
        return [sub for sub in submissions if sub.id not in done]

    def counted(
        self, exercise, students: list[str] | None = None, *, results: bool = True
    ) -> list[Current]:
        """What counts for each student of `exercise` (an `Exercise`: its slug and rule) who
        handed something in, by name; `results`: load the counted gradings' results.json."""
        rule = getattr(exercise, "counted_attempt", "latest")
        slug = exercise.slug
        with self._read() as s:
            by_student = self._submissions(s, slug, students)
            current = {
                g.submission_id: g
                for g in s.scalars(
                    select(Grading)
                    .options(defer(Grading.results))
                    .join(Submission)
                    .where(Submission.exercise == slug, Grading.is_current)
                )
            }
            overrides = {
                o.student: o for o in s.scalars(select(Override).where(Override.exercise == slug))
            }
            out = []
            for name, attempts in by_student.items():
                graded = [(a, current[a.id]) for a in attempts if a.id in current]
                chosen = pick(rule, graded)
                sub, grading = chosen if chosen else (attempts[-1], None)
                out.append(
                    Current(
                        name,
                        sub,
                        grading,
                        len(attempts),
                        len(attempts) - len(graded),
                        overrides.get(name),
                    )
                )
            out += [
                Current(name, None, None, 0, 0, o)
                for name, o in overrides.items()
                if name not in by_student and (not students or name in students)
            ]
            out.sort(key=lambda c: c.student)
            if results:
                ids = [c.grading.id for c in out if c.grading is not None]
                full = {g.id: g for g in s.scalars(select(Grading).where(Grading.id.in_(ids)))}
                out = [
                    dataclasses.replace(c, grading=full[c.grading.id]) if c.grading else c
                    for c in out
                ]
            return out

    def submissions(
        self, exercise: str, students: list[str] | None = None
    ) -> dict[str, list[Submission]]:
        """Every attempt at `exercise` (of `students`), by student name, oldest first."""
        with self._read() as s:
            return self._submissions(s, exercise, students)

    @staticmethod
    def _submissions(s: Session, exercise: str, students) -> dict[str, list[Submission]]:
        q = (
            select(Student.name, Submission)
            .join(Student, Student.id == Submission.student_id)
            .where(Submission.exercise == exercise)
            .order_by(Student.name, Submission.attempt)
        )
        if students:
            q = q.where(Student.name.in_(students))
        out: dict[str, list[Submission]] = {}
        for name, sub in s.execute(q):
            out.setdefault(name, []).append(sub)
        return out

    def regrade_targets(
        self, exercise, students: list[str] | None = None
    ) -> dict[str, list[Submission]]:
        """The attempts a regrade of `exercise` grades again, by student: under `best` every
        attempt; under `latest` the counted one and any newer (refused or not graded yet),
        or the newest when none is graded."""
        recorded = self.submissions(exercise.slug, students)
        if getattr(exercise, "counted_attempt", "latest") == "best":
            return recorded
        counted = {c.student: c for c in self.counted(exercise, students, results=False)}
        out = {}
        for name, subs in recorded.items():
            c = counted.get(name)
            since = c.submission.attempt if c and c.grading and c.submission else subs[-1].attempt
            out[name] = [sub for sub in subs if sub.attempt >= since]
        return out

    def attempts(self, exercise: str, student: str) -> list[Attempt]:
        """A student's attempts at `exercise` (oldest first), each with its gradings."""
        with self._read() as s:
            subs = list(
                s.scalars(
                    select(Submission)
                    .join(Student)
                    .where(Student.name == student, Submission.exercise == exercise)
                    .order_by(Submission.attempt)
                )
            )
            rows = s.execute(
                select(Grading, Request.kind)
                .options(defer(Grading.results))
                .join(Request, Request.id == Grading.request_id)
                .where(Grading.submission_id.in_([x.id for x in subs]))
                .order_by(Grading.id)
            ).all()
        gradings: dict[int, list] = {}
        for grading, kind in rows:
            gradings.setdefault(grading.submission_id, []).append((grading, kind))
        return [Attempt(sub, gradings.get(sub.id, [])) for sub in subs]

    def attempt(
        self, exercise: str, student: str, number: int
    ) -> tuple[Submission, Grading | None] | None:
        """One attempt and its current grading (results not loaded): what a status poll reads."""
        with self._read() as s:
            sub = s.scalar(
                select(Submission)
                .join(Student)
                .where(
                    Student.name == student,
                    Submission.exercise == exercise,
                    Submission.attempt == number,
                )
            )
            if sub is None:
                return None
            return sub, s.scalar(
                select(Grading)
                .options(defer(Grading.results))
                .where(Grading.submission_id == sub.id, Grading.is_current)
            )

    def grading(self, grading_id: int) -> Grading | None:
        """One grading with its results."""
        with self._read() as s:
            return s.get(Grading, grading_id)

    def not_graded_reasons(self, exercise) -> dict[str, str]:
        """Why each student whose counted attempt (`counted`: no attempt graded, so the newest)
        is not graded yet: the last "not-graded" entry of the audit since that attempt, e.g.
        "needs a GPU"."""
        ungraded = {
            c.student: c.submission.created_at
            for c in self.counted(exercise, results=False)
            if c.grading is None and c.submission is not None
        }
        if not ungraded:
            return {}
        with self._read() as s:
            rows = s.execute(
                select(Audit.student, Audit.detail, Audit.at)
                .where(
                    Audit.exercise == exercise.slug,
                    Audit.action == "not-graded",
                    Audit.student.in_(list(ungraded)),
                )
                .order_by(Audit.id)
            )
            return {student: detail for student, detail, at in rows if at >= ungraded[student]}

    def history(self, exercise: str, student: str | None = None) -> list[tuple[str, Grading]]:
        """Every grading of `exercise` (oldest first), with the student's name."""
        with self._tx() as s:
            q = (
                select(Student.name, Grading)
                .join(Submission, Grading.submission_id == Submission.id)
                .join(Student, Student.id == Submission.student_id)
                .where(Submission.exercise == exercise)
                .order_by(Grading.id)
            )
            if student:
                q = q.where(Student.name == student)
            return [(name, g) for name, g in s.execute(q)]

    def previous(self, grading: Grading) -> Grading | None:
        """The grading of the same submission, or else of the same student, before `grading`."""
        with self._tx() as s:
            sub = s.get_one(Submission, grading.submission_id)
            same_student = select(Submission.id).where(
                Submission.student_id == sub.student_id, Submission.exercise == sub.exercise
            )
            return s.scalar(
                select(Grading)
                .where(Grading.submission_id.in_(same_student), Grading.id < grading.id)
                .order_by(Grading.id.desc())
                .limit(1)
            )

    def gradings_of(self, request_id: str) -> list[Grading]:
        """The gradings `request_id` made, each with its submission loaded."""
        with self._tx() as s:
            return list(
                s.scalars(
                    select(Grading)
                    .options(selectinload(Grading.submission))
                    .where(Grading.request_id == request_id)
                    .order_by(Grading.id)
                )
            )

    # ------------------------------------------------------------ extensions and overrides

    def _per_student(self, model, exercise: str) -> dict:
        with self._read() as s:
            return {
                r.student: r for r in s.scalars(select(model).where(model.exercise == exercise))
            }

    def _set_per_student(
        self,
        model,
        exercise: str,
        student: str,
        values: dict | None,
        comment: str,
        actor: str,
        action: str,
        what: str,
    ) -> None:
        """Replace `student`'s row of `model` for `exercise` (None: remove it), audited."""
        with self._tx() as s:
            s.execute(delete(model).where(model.exercise == exercise, model.student == student))
            if values is not None:
                s.add(
                    model(
                        student=student, exercise=exercise, comment=comment, actor=actor, **values
                    )
                )
            self._audit(
                s,
                f"{action}-{'set' if values is not None else 'removed'}",
                exercise,
                student,
                f"{what} by {actor}" + (f": {comment}" if comment else ""),
            )

    def extensions(self, exercise: str) -> dict[str, Extension]:
        return self._per_student(Extension, exercise)

    def extension(self, exercise: str, student: str) -> Extension | None:
        return self.extensions(exercise).get(student)

    def set_extension(
        self, exercise: str, student: str, due: dt.datetime | None, comment: str, actor: str
    ) -> None:
        """`student`'s own due date for `exercise` (None: back to the course's), audited."""
        self._set_per_student(
            Extension,
            exercise,
            student,
            {"due": due} if due else None,
            comment,
            actor,
            "extension",
            f"due {due.isoformat()}" if due else "the course's due date",
        )

    def overrides(self, exercise: str) -> dict[str, Override]:
        return self._per_student(Override, exercise)

    def set_override(
        self, exercise: str, student: str, score: float | None, comment: str, actor: str
    ) -> None:
        """The score `student` gets on `exercise` whatever the attempts (None: remove), audited."""
        self._set_per_student(
            Override,
            exercise,
            student,
            {"score": score} if score is not None else None,
            comment,
            actor,
            "override",
            f"score {score:g}" if score is not None else "attempts count again",
        )

    def audit_trail(self, exercise: str, student: str, limit: int = 200) -> list[Audit]:
        """What happened to `student` on `exercise`, newest first."""
        with self._read() as s:
            return list(
                s.scalars(
                    select(Audit)
                    .where(Audit.exercise == exercise, Audit.student == student)
                    .order_by(Audit.id.desc())
                    .limit(limit)
                )
            )

    # ------------------------------------------------------------ similarity runs

    def record_similarity(
        self, run: SimilarityRun, pairs: list[SimilarityPair], flagged: int
    ) -> None:
        """Write one similarity run and all its pairs at once (audited with the number of
        `flagged` pairs)."""
        with self._tx() as s:
            run.actor = run.actor or self.actor
            s.add(run)
            s.flush()
            s.add_all(pairs)
            self._audit(
                s,
                "similarity-run",
                run.exercise,
                detail=f"run {run.id}: "
                f"{len(run.sources)} submissions, {flagged} pair(s) at or above "
                f"{run.threshold:.0%}",
            )

    def similarity_run(self, exercise: str, run_id: str | None = None) -> SimilarityRun | None:
        """The run `run_id` of `exercise`, or its newest run (None: none)."""
        with self._read() as s:
            q = select(SimilarityRun).where(SimilarityRun.exercise == exercise)
            q = (
                q.where(SimilarityRun.id == run_id)
                if run_id
                else q.order_by(SimilarityRun.created_at.desc(), SimilarityRun.id).limit(1)
            )
            return s.scalar(q)

    def similarity_pairs(
        self, run_id: str, threshold: float = 0.0, min_tokens: int = 0
    ) -> list[SimilarityPair]:
        """The pairs of a run whose higher share is at least `threshold` and that match at
        least `min_tokens` tokens one way, highest first (`spans` not loaded)."""
        P = SimilarityPair
        with self._read() as s:
            pairs = list(
                s.scalars(
                    select(P)
                    .options(defer(P.spans))
                    .where(
                        P.run_id == run_id,
                        or_(P.score_a >= threshold, P.score_b >= threshold),
                        or_(P.tokens_a >= min_tokens, P.tokens_b >= min_tokens),
                    )
                )
            )
        pairs.sort(key=lambda p: (-p.score, -max(p.tokens_a, p.tokens_b), p.student_a, p.student_b))
        return pairs

    def similarity_pair(self, exercise: str, pair_id: int) -> SimilarityPair | None:
        with self._read() as s:
            return s.scalar(
                select(SimilarityPair).where(
                    SimilarityPair.id == pair_id, SimilarityPair.exercise == exercise
                )
            )
