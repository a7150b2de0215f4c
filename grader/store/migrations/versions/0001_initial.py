"""The first schema: students, requests, submissions, gradings, audit, leases.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from grader.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "students",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("students", sa.JSON, nullable=True),
        sa.Column("out_dir", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "student_id", sa.Integer, sa.ForeignKey("students.id"), nullable=False, index=True
        ),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("late_days", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("student_id", "exercise", "content_hash"),
    )
    op.create_table(
        "gradings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True
        ),
        sa.Column(
            "request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False, index=True
        ),
        sa.Column("grader_version", sa.String(50), nullable=False),
        sa.Column("image_id", sa.String(200), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("seeds", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("max_score", sa.Float, nullable=False),
        sa.Column("late_days", sa.Integer, nullable=False),
        sa.Column("penalty", sa.Float, nullable=False),
        sa.Column("final", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.UniqueConstraint("submission_id", "request_id"),
    )
    op.create_index(
        "one_current_grading",
        "gradings",
        ["submission_id"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("exercise", sa.String(200), nullable=False),
        sa.Column("student", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("exercise", sa.String(200), primary_key=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("leases", "audit", "gradings", "submissions", "requests", "students"):
        op.drop_table(table)
