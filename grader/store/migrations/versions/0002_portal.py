"""The course portal: accounts, sign-in sessions, grading jobs.

Revision ID: 0002_portal
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from grader.store.models import UTCDateTime

revision = "0002_portal"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("login", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True
        ),
        sa.Column(
            "request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False, index=True
        ),
        sa.Column("student", sa.String(200), nullable=False, index=True),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("problem", sa.Text, nullable=False),
        sa.Column("grading_id", sa.Integer, sa.ForeignKey("gradings.id"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("finished_at", UTCDateTime, nullable=True),
    )


def downgrade() -> None:
    for table in ("jobs", "web_sessions", "accounts"):
        op.drop_table(table)
