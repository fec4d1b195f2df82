"""``runs.retrieve`` body (Trigger.dev's ``RetrieveRunResponse``). Optional fields are omitted, never null."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.status import RunStatus, retrieve_flags
from services.realtime.shape import cost_cents, duration_ms
from store.rows import RunRow

def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def retrieve_body(run: RunRow, now: datetime) -> dict[str, Any]:
    status = run.status.public
    body: dict[str, Any] = {
        "id": run.public_id,
        "taskIdentifier": run.task,
        "status": status,
        "createdAt": _iso(run.created_at),
        "updatedAt": _iso(run.updated_at),
        "costInCents": cost_cents(run),
        "baseCostInCents": 0,
        "durationMs": duration_ms(run, now),
        "isTest": False,
        "depth": 0,
        "tags": sorted(run.tags or []),
        "triggerFunction": "trigger",
        **retrieve_flags(run.status),
        "payload": run.payload,
        "relatedRuns": {"children": []},
        "attemptCount": int(run.attempts or 0),
    }
    if run.started_at is not None:
        body["startedAt"] = _iso(run.started_at)
    if run.completed_at is not None:
        body["finishedAt"] = _iso(run.completed_at)
    if run.metadata is not None:
        body["metadata"] = run.metadata
    if run.status is RunStatus.COMPLETED_SUCCESSFULLY and run.output is not None:
        body["output"] = run.output
    error = run.error
    if error:
        body["error"] = {k: error[k] for k in ("message", "name", "stackTrace") if error.get(k) is not None}
    return body
