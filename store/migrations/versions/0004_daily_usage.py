"""Tokens and estimated cost per user per UTC day, for the daily spend cap.

Kept apart from the runs: erasing a session (DELETE, retention) removes its runs with everything the
user wrote, but the spend it caused still counts towards that day's cap.

Revision ID: 0004_daily_usage
Revises: 0003_session_memory
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_daily_usage"
down_revision = "0003_session_memory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_usage",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float(), nullable=False, server_default="0"),
    )
    # The retention purge looks sessions up by how long they have been idle.
    op.create_index("ix_chat_sessions_updated", "chat_sessions", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_sessions_updated", table_name="chat_sessions")
    op.drop_table("daily_usage")
