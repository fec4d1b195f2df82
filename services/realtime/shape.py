"""A run row as Trigger.dev's ``TaskRun`` shape row, in the Electric wire format the SDK parses.

Values use PostgreSQL text encoding driven by :data:`SCHEMA` (what Trigger.dev's own native
backend sends): timestamps UTC *without* a zone suffix (the SDK appends ``Z`` itself), arrays as
PostgreSQL array literals, JSON payload/metadata/output as JSON text. ``completedAt`` is set on every
terminal status: the SDK decides a run is finished by that column alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from store.rows import RunRow

HANDLE_PREFIX = "run-"

SCHEMA: dict[str, dict[str, Any]] = {
    "id": {"type": "text"},
    "taskIdentifier": {"type": "text"},
    "friendlyId": {"type": "text"},
    "status": {"type": "text"},
    "createdAt": {"type": "timestamp"},
    "updatedAt": {"type": "timestamp"},
    "startedAt": {"type": "timestamp"},
    "delayUntil": {"type": "timestamp"},
    "queuedAt": {"type": "timestamp"},
    "expiredAt": {"type": "timestamp"},
    "completedAt": {"type": "timestamp"},
    "number": {"type": "int4"},
    "isTest": {"type": "bool"},
    "usageDurationMs": {"type": "int4"},
    "costInCents": {"type": "float8"},
    "baseCostInCents": {"type": "float8"},
    "ttl": {"type": "text"},
    "payload": {"type": "text"},
    "payloadType": {"type": "text"},
    "metadata": {"type": "text"},
    "metadataType": {"type": "text"},
    "output": {"type": "text"},
    "outputType": {"type": "text"},
    "runTags": {"type": "text", "dims": 1},
    "error": {"type": "jsonb"},
    "realtimeStreams": {"type": "text", "dims": 1},
}
SCHEMA_HEADER = json.dumps(SCHEMA, separators=(",", ":"))
RESERVED = frozenset({"id", "taskIdentifier", "friendlyId", "status", "createdAt", "updatedAt"})


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def pg_array(items: list[str] | None) -> str:
    def quote(item: str) -> str:
        return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ",".join(quote(str(i)) for i in items or []) + "}"


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def duration_ms(run: RunRow, now: datetime) -> int:
    if run.started_at is None:
        return 0
    return max(0, int(((run.completed_at or now) - run.started_at).total_seconds() * 1000))


def cost_cents(run: RunRow) -> float:
    return round(float(run.usage.cost_usd if run.usage else 0.0) * 100, 6)


def row_value(run: RunRow, now: datetime, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The ``value`` of a change message: every column, PostgreSQL text encoded, minus ``skip``."""
    value = {
        "id": run.id,
        "taskIdentifier": run.task,
        "friendlyId": run.public_id,
        "status": run.status.value,
        "createdAt": timestamp(run.created_at),
        "updatedAt": timestamp(run.updated_at),
        "startedAt": timestamp(run.started_at),
        "delayUntil": None,
        "queuedAt": timestamp(run.created_at),
        "expiredAt": None,
        "completedAt": timestamp(run.completed_at),
        "number": str(run.number or 1),
        "isTest": "f",
        "usageDurationMs": str(duration_ms(run, now)),
        "costInCents": repr(cost_cents(run)),
        "baseCostInCents": "0.0",
        "ttl": None,
        "payload": _json_text(run.payload),
        "payloadType": "application/json",
        "metadata": _json_text(run.metadata),
        "metadataType": "application/json",
        "output": _json_text(run.output),
        "outputType": "application/json",
        "runTags": pg_array(sorted(run.tags or [])),
        "error": _json_text(run.error),
        "realtimeStreams": pg_array(run.realtime_streams or []),
    }
    for column in skip - RESERVED:
        value.pop(column, None)
    return value


def schema_header(skip: frozenset[str] = frozenset()) -> str:
    dropped = skip - RESERVED
    if not dropped:
        return SCHEMA_HEADER
    return json.dumps({k: v for k, v in SCHEMA.items() if k not in dropped}, separators=(",", ":"))


def offset(run: RunRow) -> str:
    """``<updatedAt ms>_<version>``: strictly increasing per run, as Trigger.dev's native backend."""
    return f"{int(run.updated_at.timestamp() * 1000)}_{run.version}"


def handle(run: RunRow) -> str:
    return HANDLE_PREFIX + run.public_id


def change(run: RunRow, operation: str, now: datetime, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        "key": f'"public"."TaskRun"/"{run.id}"',
        "value": row_value(run, now, skip),
        "headers": {"operation": operation},
    }


UP_TO_DATE: dict[str, Any] = {"headers": {"control": "up-to-date"}}
MUST_REFETCH: dict[str, Any] = {"headers": {"control": "must-refetch"}}
