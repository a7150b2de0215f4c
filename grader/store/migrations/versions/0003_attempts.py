"""Attempts: every upload its own numbered submission; extensions, overrides; jobs owned by a
process and retried; roster SIS ids and sections; an index for sign-in throttling.

Submissions were unique per (student, exercise, content hash), so handing in the same bytes
again reused the old submission. Now they are numbered per student and exercise (the
existing ones in the order they were received) and unique per (student, exercise, attempt).

Revision ID: 0003_attempts
Revises: 0002_portal
"""

import sqlalchemy as sa
from alembic import op

from grader.store.models import UTCDateTime

revision = "0003_attempts"
down_revision = "0002_portal"
branch_labels = None
depends_on = None

# 0001 left its unique constraint unnamed: on SQLite batch mode finds it by this convention.
UNNAMED = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    conn = op.get_bind()
    op.add_column("submissions", sa.Column("attempt", sa.Integer, nullable=True))
    conn.execute(
        sa.text(
            "UPDATE submissions SET attempt = (SELECT count(*) FROM submissions AS earlier "
            "WHERE earlier.student_id = submissions.student_id "
            "AND earlier.exercise = submissions.exercise AND earlier.id <= submissions.id)"
        )
    )
    if conn.dialect.name == "sqlite":
        with op.batch_alter_table("submissions", naming_convention=UNNAMED) as batch:
            batch.drop_constraint("uq_submissions_student_id", type_="unique")
            batch.alter_column("attempt", existing_type=sa.Integer, nullable=False)
            batch.create_unique_constraint(
                "uq_submissions_attempt", ["student_id", "exercise", "attempt"]
            )
    else:
        for uc in sa.inspect(conn).get_unique_constraints("submissions"):
            if uc["name"] and set(uc["column_names"]) == {"student_id", "exercise", "content_hash"}:
                op.drop_constraint(uc["name"], "submissions", type_="unique")
        op.alter_column("submissions", "attempt", existing_type=sa.Integer, nullable=False)
        op.create_unique_constraint(
            "uq_submissions_attempt", "submissions", ["student_id", "exercise", "attempt"]
        )

    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("sis_id", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("section", sa.String(100), nullable=False, server_default=""))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("tries", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", UTCDateTime, nullable=True))
    op.create_index("ix_audit_student_action_at", "audit", ["student", "action", "at"])
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("student", sa.String(200), nullable=False),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("due", UTCDateTime, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("student", "exercise", name="uq_extensions_student"),
    )
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("student", sa.String(200), nullable=False),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("student", "exercise", name="uq_overrides_student"),
    )


def downgrade() -> None:
    raise NotImplementedError(
        "0003_attempts cannot be undone: attempts with the same bytes "
        "would collide; restore a backup of the store instead"
    )
