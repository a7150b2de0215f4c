"""Similarity runs (`grader similarity`) and the pairs of submissions each compared.

Revision ID: 0004_similarity
Revises: 0003_attempts
"""

import sqlalchemy as sa
from alembic import op

from grader.store.models import UTCDateTime

revision = "0004_similarity"
down_revision = "0003_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "similarity_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "similarity_pairs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id", sa.String(36), sa.ForeignKey("similarity_runs.id"), nullable=False, index=True
        ),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("student_a", sa.String(200), nullable=False),
        sa.Column("student_b", sa.String(200), nullable=False),
        sa.Column("submission_a", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("submission_b", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("score_a", sa.Float, nullable=False),
        sa.Column("score_b", sa.Float, nullable=False),
        sa.Column("tokens_a", sa.Integer, nullable=False),
        sa.Column("tokens_b", sa.Integer, nullable=False),
        sa.Column("spans", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("run_id", "student_a", "student_b", name="uq_similarity_pairs_pair"),
    )


def downgrade() -> None:
    op.drop_table("similarity_pairs")
    op.drop_table("similarity_runs")
