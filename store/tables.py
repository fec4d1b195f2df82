"""Table definitions (SQLAlchemy Core). Alembic migrations in ``store/migrations`` create them.

Timestamps are timezone-aware UTC in Python on both engines; JSON columns are JSONB on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite stores them as naive UTC text."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType: Any = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False, index=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

sessions = sa.Table(
    "chat_sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("campaign_id", sa.String(36), nullable=False),
    sa.Column("node_id", sa.String(36), nullable=False),
    sa.Column("title", sa.Text(), nullable=True),
    sa.Column("messages", JSONType, nullable=True),
    sa.Column("draft_subject", sa.Text(), nullable=True),
    sa.Column("draft_body", sa.Text(), nullable=True),
    sa.Column("skeleton", JSONType, nullable=True),
    sa.Column("skeleton_history", JSONType, nullable=True),
    sa.Column("draft_history", JSONType, nullable=True),
    sa.Column("framework_version", sa.BigInteger(), nullable=True),
    sa.Column("generated_examples", JSONType, nullable=True),
    # What the session remembers from its requests (written when a run starts; NULL: never given).
    sa.Column("available_var_names", JSONType, nullable=True),
    sa.Column("sequence_context", JSONType, nullable=True),
    # The claim: task_status + the internal run id holding it + the lease end. One conditional write sets all three.
    sa.Column("task_status", sa.String(32), nullable=True),
    sa.Column("claim_run_id", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
    # The id clients follow for the in-flight run (Trigger.dev's id under that backend, else claim_run_id).
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("last_run", JSONType, nullable=True),
    sa.Column("usage", JSONType, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_chat_sessions_owner_campaign", "user_id", "campaign_id", "created_at"),
    sa.Index("ix_chat_sessions_lease", "lease_expires_at"),
    sa.Index("ix_chat_sessions_updated", "updated_at"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("external_id", sa.String(64), nullable=True, unique=True),
    sa.Column("number", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("session_id", sa.String(36), nullable=False, index=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("task", sa.String(64), nullable=False),
    sa.Column("backend", sa.String(16), nullable=False),
    # Trigger.dev's TaskRunStatus names, so the realtime layer serves them as they are.
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("metadata", JSONType, nullable=True),
    sa.Column("output", JSONType, nullable=True),
    sa.Column("error", JSONType, nullable=True),
    sa.Column("usage", JSONType, nullable=True),
    sa.Column("tags", JSONType, nullable=True),
    sa.Column("realtime_streams", JSONType, nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    # Bumped on every change; with updated_at it makes the realtime offset strictly increasing.
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    # Set by a cancel request the API could not carry out itself (the task runs in another process).
    sa.Column("cancel_requested_at", UTCDateTime(), nullable=True),
    sa.Index("ix_runs_status_created", "status", "created_at"),
)

run_events = sa.Table(
    "run_events",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("event", JSONType, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", JSONType, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# Spend per user per UTC day (the daily token cap); outlives the runs it was counted from.
daily_usage = sa.Table(
    "daily_usage",
    metadata,
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("input_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("cost_usd", sa.Float(), nullable=False, server_default="0"),
)
