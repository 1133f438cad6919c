"""What the assistant learns from visitors: answer votes per day and redacted unanswered questions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_votes",
        sa.Column("answer", sa.String(80), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("helpful", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unhelpful", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "unanswered_questions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("answer", sa.String(80)),
        sa.Column("kept_on", sa.Date(), nullable=False),
        sa.Column("group_id", sa.Integer()),
    )
    op.create_index("ix_unanswered_questions_kept_on", "unanswered_questions", ["kept_on"])
    op.create_index("ix_unanswered_questions_group_id", "unanswered_questions", ["group_id"])


def downgrade() -> None:
    op.drop_table("unanswered_questions")
    op.drop_table("answer_votes")
