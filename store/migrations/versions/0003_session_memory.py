"""Sessions remember the last whitelist (``availableVarNames``) and ``sequenceContext`` they were given.

Revision ID: 0003_session_memory
Revises: 0002_run_cancel
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from store.tables import JSONType

revision = "0003_session_memory"
down_revision = "0002_run_cancel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: existing sessions were never given a remembered value (NULL), so they keep
    # today's behaviour (the standard lead fields) until a turn gives them a whitelist.
    op.add_column("chat_sessions", sa.Column("available_var_names", JSONType, nullable=True))
    op.add_column("chat_sessions", sa.Column("sequence_context", JSONType, nullable=True))


def downgrade() -> None:
    # SQLite needs batch mode to drop columns (it rebuilds the table).
    with op.batch_alter_table("chat_sessions") as batch:
        batch.drop_column("sequence_context")
        batch.drop_column("available_var_names")
