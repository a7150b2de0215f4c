"""The portal on Flask-Login, Flask-WTF and Flask-Limiter: the limiter's hits and the portal's
signing secret in the store; the CSRF token leaves the sign-in session (Flask-WTF keeps it).

Revision ID: 0006_portal_limits
Revises: 0005_lti
"""

import sqlalchemy as sa
from alembic import op

from grader.store.models import UTCDateTime

revision = "0006_portal_limits"
down_revision = "0005_lti"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_hits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, index=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    )
    op.create_table(
        "portal_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("csrf")


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("csrf", sa.String(64), nullable=False, server_default=""))
    op.drop_table("portal_secrets")
    op.drop_table("rate_hits")
