"""When each once-a-day job last started, so that several website app replicas run it once between them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
