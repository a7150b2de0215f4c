"""LTI 1.3: registered platforms, the tool's key, LMS users, launch state, the score outbox.

Revision ID: 0005_lti
Revises: 0004_similarity
"""

import sqlalchemy as sa
from alembic import op

from grader.store.models import UTCDateTime

revision = "0005_lti"
down_revision = "0004_similarity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(500), nullable=False),
        sa.Column("deployment_ids", sa.JSON, nullable=False),
        sa.Column("auth_login_url", sa.Text, nullable=False),
        sa.Column("auth_token_url", sa.Text, nullable=False),
        sa.Column("keyset_url", sa.Text, nullable=False),
        sa.Column("auth_audience", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_client"),
    )
    op.create_table(
        "lti_keys",
        sa.Column("kid", sa.String(100), primary_key=True),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("public_pem", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "lti_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("sub", sa.String(255), nullable=False),
        sa.Column(
            "account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("issuer", "sub", name="uq_lti_users_sub"),
    )
    op.create_table(
        "lti_states",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    )
    op.create_table(
        "lti_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "platform_id", sa.Integer, sa.ForeignKey("lti_platforms.id"), nullable=False, index=True
        ),
        sa.Column("student", sa.String(200), nullable=False, index=True),
        sa.Column("exercise", sa.String(200), nullable=False, index=True),
        sa.Column("sub", sa.String(255), nullable=False),
        sa.Column("lineitem", sa.Text, nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("last_score", sa.Float, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "platform_id", "student", "exercise", "lineitem", name="uq_lti_links_target"
        ),
    )
    op.create_table(
        "lti_scores",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("link_id", sa.Integer, sa.ForeignKey("lti_links.id"), nullable=False, index=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("maximum", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("next_try_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
    )


def downgrade() -> None:
    for table in (
        "lti_scores",
        "lti_links",
        "lti_states",
        "lti_users",
        "lti_keys",
        "lti_platforms",
    ):
        op.drop_table(table)
