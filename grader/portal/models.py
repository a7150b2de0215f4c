"""The portal's tables in the store: accounts, sign-in sessions, grading jobs, the rate
limiter's hits and the portal's signing secret.

Created by the Alembic migrations `0002_portal`, `0003_attempts` and `0006_portal_limits`. A job is one grading
to do: an upload (a new attempt) or one attempt's part of a portal regrade; it points at the
store's submission row, so portal uploads are ordinary submissions for `grader regrade` and
`grader export`. A job is claimed by one `grader serve` process (`owner`), which keeps
`heartbeat_at` fresh while it grades; a platform failure waits until `retry_at`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from grader.states import GRADED, QUEUED, RUNNING
from grader.states import NOT_GRADED_YET as NOT_GRADED
from grader.store.models import Base, UTCDateTime, utcnow

STATUSES = (QUEUED, RUNNING, GRADED, NOT_GRADED)  # a job's own states (refused is a grading's)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="student")  # student, instructor
    password_hash: Mapped[str] = mapped_column(String(300), default="")  # "": cannot sign in
    sis_id: Mapped[str] = mapped_column(
        String(100), default=""
    )  # the school's id (Canvas SIS User ID)
    section: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser: only the sha256 of its cookie token is kept."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    student: Mapped[str] = mapped_column(String(200), index=True)
    exercise: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # upload, regrade
    status: Mapped[str] = mapped_column(String(20), index=True)
    problem: Mapped[str] = mapped_column(Text, default="")  # why not graded (platform failure)
    grading_id: Mapped[int | None] = mapped_column(ForeignKey("gradings.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    owner: Mapped[str] = mapped_column(String(200), default="")  # "host pid" grading it
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)  # platform failures so far
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RateHit(Base):
    """One hit counted by the portal's rate limiter (Flask-Limiter through
    `grader.portal.ratelimit`): kept in the store so that every portal process sharing it
    counts together and a restart forgets nothing."""

    __tablename__ = "rate_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class PortalSecret(Base):
    """A secret of the portal made once and shared by its processes (the key that signs the
    CSRF cookie)."""

    __tablename__ = "portal_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
