"""Runs remember a cancel request, so a worker in another process can stop its task.

Revision ID: 0002_run_cancel
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0002_run_cancel"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("cancel_requested_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "cancel_requested_at")
