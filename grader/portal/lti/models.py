"""The LTI 1.3 tables in the store (Alembic migration `0005_lti`).

- `lti_platforms`: an LMS registered with `grader lti register` (issuer, client id, its
  deployments, its login, token and key-set URLs).
- `lti_keys`: the tool's RSA key pair, made once; the private key lives in the store, which
  is already the portal's secret (docs/portal.md, Security).
- `lti_users`: which portal account an LMS user is (issuer + `sub`).
- `lti_states`: short-lived launch state with an expiry (OIDC nonces, launch data, one-time
  sign-in hand-offs), shared by every portal process on the store.
- `lti_links`: where one student's score for one exercise goes (the line item of the
  launch), with the last score queued for it.
- `lti_scores`: the outbox of scores to post, retried with backoff until the platform takes
  them; each try is also a row of the store's audit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grader.store.models import Base, UTCDateTime, utcnow

PENDING, SENT, SUPERSEDED = "pending", "sent", "superseded"  # an outbox row's states


class LtiPlatform(Base):
    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    deployment_ids: Mapped[list] = mapped_column(JSON, default=list)
    auth_login_url: Mapped[str] = mapped_column(Text)
    auth_token_url: Mapped[str] = mapped_column(Text)
    keyset_url: Mapped[str] = mapped_column(Text)
    auth_audience: Mapped[str] = mapped_column(Text, default="")  # "": the token URL
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiKey(Base):
    __tablename__ = "lti_keys"

    kid: Mapped[str] = mapped_column(String(100), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiUser(Base):
    __tablename__ = "lti_users"
    __table_args__ = (UniqueConstraint("issuer", "sub", name="uq_lti_users_sub"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    sub: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiState(Base):
    __tablename__ = "lti_states"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[dict | list | str | bool | None] = mapped_column(JSON, nullable=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class LtiLink(Base):
    __tablename__ = "lti_links"
    __table_args__ = (
        UniqueConstraint(
            "platform_id", "student", "exercise", "lineitem", name="uq_lti_links_target"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"), index=True)
    student: Mapped[str] = mapped_column(String(200), index=True)  # the account's login
    exercise: Mapped[str] = mapped_column(String(200), index=True)
    sub: Mapped[str] = mapped_column(String(255))  # the LMS user id the score is for
    lineitem: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    last_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # last one queued
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiScore(Base):
    __tablename__ = "lti_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_links.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending, sent, superseded
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow
    )  # the score's timestamp
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
