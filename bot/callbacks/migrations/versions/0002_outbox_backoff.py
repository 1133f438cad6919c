"""Notification outbox: when the next attempt may be made, and when automatic attempts stopped.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-20
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both nullable: rows already waiting are due at once and still being tried, as before.
    with op.batch_alter_table("notification_outbox") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("failed_at")
        batch.drop_column("next_attempt_at")
