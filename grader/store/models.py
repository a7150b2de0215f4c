"""The store's tables: students, grading requests, submissions, gradings, audit, leases,
and the instructor's per-student extensions and score overrides.

A submission is one *attempt*: what one student handed in for one exercise at one time,
numbered per student and exercise (1, 2, ...), even when its bytes repeat an earlier one. A
grading is one grading of it under one request. `(submission, request)` is unique, so a
request grades each submission at most once, and at most one grading per submission is
current (a partial unique index), so no score is ever counted twice. Which attempt counts is
the course's rule (`grader.store.counting`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Request(Base):
    """One grading request: a grade-all run or a regrade, over some students of one exercise."""

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    exercise: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # grade-all, portal, regrade, rescore
    students: Mapped[list | None] = mapped_column(JSON, nullable=True)  # None: everyone
    out_dir: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Submission(Base):
    """One attempt; `attempt` numbers a student's attempts at an exercise from 1."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("student_id", "exercise", "attempt", name="uq_submissions_attempt"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    exercise: Mapped[str] = mapped_column(String(200), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    late_days: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    student: Mapped[Student] = relationship()


class Grading(Base):
    __tablename__ = "gradings"
    __table_args__ = (
        UniqueConstraint("submission_id", "request_id"),
        Index(
            "one_current_grading",
            "submission_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    grader_version: Mapped[str] = mapped_column(String(50))
    image_id: Mapped[str] = mapped_column(String(200), default="")
    seed: Mapped[int] = mapped_column(Integer)
    seeds: Mapped[dict] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float)  # before the late penalty
    max_score: Mapped[float] = mapped_column(Float)
    late_days: Mapped[int] = mapped_column(Integer, default=0)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)
    final: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))  # graded, refused
    results: Mapped[dict] = mapped_column(JSON)  # the full results.json (Gradescope superset)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)

    submission: Mapped[Submission] = relationship()


class Audit(Base):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_student_action_at", "student", "action", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    exercise: Mapped[str] = mapped_column(String(200), default="")
    student: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class Lease(Base):
    """Which grader process is grading an exercise in this store right now."""

    __tablename__ = "leases"

    exercise: Mapped[str] = mapped_column(String(200), primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class _PerStudent:
    """A row an instructor sets for one student on one exercise, with why and who."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student: Mapped[str] = mapped_column(String(200))
    exercise: Mapped[str] = mapped_column(String(200), index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Extension(_PerStudent, Base):
    """A later due date for one student on one exercise (its history is in the audit table)."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("student", "exercise", name="uq_extensions_student"),)

    due: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Override(_PerStudent, Base):
    """An instructor's score for one student on one exercise, counted instead of any attempt."""

    __tablename__ = "overrides"
    __table_args__ = (UniqueConstraint("student", "exercise", name="uq_overrides_student"),)

    score: Mapped[float] = mapped_column(Float)


class SimilarityRun(Base):
    """One `grader similarity` run over the current submissions of an exercise: the settings,
    and the text compared of each submission (`sources`: student -> attempt, files, skipped),
    so its report reads the same later whatever happens to the files on disk."""

    __tablename__ = "similarity_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    exercise: Mapped[str] = mapped_column(String(200), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    threshold: Mapped[float] = mapped_column(Float)
    settings: Mapped[dict] = mapped_column(JSON)  # noise / guarantee thresholds, caps, boilerplate
    sources: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimilarityPair(Base):
    """Two students' submissions compared in one run: the share of each one's fingerprinted
    tokens found in the other (`score_a`, `score_b`), those token counts, and where (`spans`:
    "a"/"b" -> file -> [[start, end], ...] character ranges of the stored text)."""

    __tablename__ = "similarity_pairs"
    __table_args__ = (
        UniqueConstraint("run_id", "student_a", "student_b", name="uq_similarity_pairs_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("similarity_runs.id"), index=True)
    exercise: Mapped[str] = mapped_column(String(200), index=True)
    student_a: Mapped[str] = mapped_column(String(200))
    student_b: Mapped[str] = mapped_column(String(200))
    submission_a: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    submission_b: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    score_a: Mapped[float] = mapped_column(Float)
    score_b: Mapped[float] = mapped_column(Float)
    tokens_a: Mapped[int] = mapped_column(Integer)
    tokens_b: Mapped[int] = mapped_column(Integer)
    spans: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def score(self) -> float:
        """The higher of the two shares: what a pair is flagged and sorted by."""
        return max(self.score_a, self.score_b)
