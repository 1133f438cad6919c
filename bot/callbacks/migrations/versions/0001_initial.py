"""Callback requests and the staff notification outbox.

Revision ID: 0001
Revises:
Create Date: 2024-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("phone", sa.String(32)),
        sa.Column("safe_to_identify", sa.Boolean()),
        sa.Column("best_time", sa.String(200)),
        sa.Column("role", sa.String(32)),
        sa.Column("note", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("in_progress_at", sa.DateTime(timezone=True)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("purged_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("reference", name="uq_callback_requests_reference"),
        sa.UniqueConstraint("idempotency_key", name="uq_callback_requests_idempotency_key"),
    )
    op.create_index("ix_callback_requests_status", "callback_requests", ["status"])
    op.create_index("ix_callback_requests_created_at", "callback_requests", ["created_at"])
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "reference",
            sa.String(16),
            sa.ForeignKey("callback_requests.reference", name="fk_notification_outbox_reference"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(100)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notification_outbox_reference", "notification_outbox", ["reference"])
    op.create_index("ix_notification_outbox_sent_at", "notification_outbox", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_notification_outbox_sent_at", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_reference", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_index("ix_callback_requests_created_at", table_name="callback_requests")
    op.drop_index("ix_callback_requests_status", table_name="callback_requests")
    op.drop_table("callback_requests")
