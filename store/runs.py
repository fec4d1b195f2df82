"""Run repository: one row per dispatched task, the local source of truth for realtime.

Every change bumps ``version`` and moves ``updated_at`` forward, so a subscriber's offset
``<updated_at ms>_<version>`` strictly increases. Status names are Trigger.dev's ``TaskRunStatus``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import TERMINAL_STATUSES, run_events, runs as t

_terminal = tuple(TERMINAL_STATUSES)


def new_run_values(
    *, run_id: str, session_id: str, user_id: str, task: str, backend: str, payload: dict[str, Any], tags: list[str],
    now: datetime,
) -> dict[str, Any]:
    """Column values of a freshly dispatched run (PENDING)."""
    return {
        "id": run_id, "session_id": session_id, "user_id": user_id, "task": task, "backend": backend,
        "status": "PENDING", "payload": payload, "tags": tags, "realtime_streams": [], "number": 1, "attempts": 0,
        "version": 1, "created_at": now, "updated_at": now,
    }


async def insert(conn: AsyncConnection, **values: Any) -> None:
    """Insert a run; ``values`` as :func:`new_run_values` builds them."""
    await conn.execute(sa.insert(t).values(**new_run_values(**values)))


async def get(conn: AsyncConnection, run_id: str) -> sa.RowMapping | None:
    """A run by our id or by the id its backend gave it."""
    stmt = sa.select(t).where(sa.or_(t.c.id == run_id, t.c.external_id == run_id))
    row = (await conn.execute(stmt)).first()
    return row._mapping if row else None


async def update(conn: AsyncConnection, run_id: str, *, now: datetime, only_active: bool = False, **values: Any) -> bool:
    """Change a run; with ``only_active`` a run that already ended is left alone. True if a row changed."""
    conditions = [t.c.id == run_id]
    if only_active:
        conditions.append(t.c.status.not_in(_terminal))
    stmt = sa.update(t).where(*conditions).values(**values, updated_at=now, version=t.c.version + 1)
    return (await conn.execute(stmt)).rowcount == 1


async def finish(
    conn: AsyncConnection,
    run_id: str,
    *,
    status: str,
    now: datetime,
    output: Any = None,
    error: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> bool:
    """Move an active run to a terminal status with ``completed_at``; a finished run is never reopened."""
    if status not in TERMINAL_STATUSES:
        raise ValueError(f"{status} is not terminal")
    values: dict[str, Any] = {"status": status, "completed_at": now, "output": output, "error": error}
    if usage is not None:
        values["usage"] = usage
    if metadata is not None:
        values["metadata"] = metadata
    return await update(conn, run_id, now=now, only_active=True, **values)


async def stale_active(conn: AsyncConnection, *, created_before: datetime, limit: int = 100) -> list[tuple[str, str]]:
    """(run_id, session_id) of runs still active long after any lease could cover them."""
    stmt = (
        sa.select(t.c.id, t.c.session_id)
        .where(t.c.status.not_in(_terminal), t.c.created_at < created_before)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in await conn.execute(stmt)]


async def list_runs(
    conn: AsyncConnection, *, session_id: str | None = None, status: str | None = None, limit: int = 50
) -> list[sa.RowMapping]:
    stmt = sa.select(t).order_by(t.c.created_at.desc()).limit(limit)
    if session_id:
        stmt = stmt.where(t.c.session_id == session_id)
    if status:
        stmt = stmt.where(t.c.status == status)
    return [row._mapping for row in await conn.execute(stmt)]


async def append_event(conn: AsyncConnection, *, run_id: str, seq: int, event: dict[str, Any], now: datetime) -> None:
    await conn.execute(sa.insert(run_events).values(run_id=run_id, seq=seq, event=event, created_at=now))


async def events_after(conn: AsyncConnection, *, run_id: str, after_seq: int, limit: int = 500) -> list[sa.RowMapping]:
    stmt = (
        sa.select(run_events)
        .where(run_events.c.run_id == run_id, run_events.c.seq > after_seq)
        .order_by(run_events.c.seq)
        .limit(limit)
    )
    return [row._mapping for row in await conn.execute(stmt)]


async def cancel_pending(conn: AsyncConnection, run_id: str, *, now: datetime, error: dict[str, Any]) -> bool:
    """CANCELED a run nobody has started yet; False when it already started (or ended)."""
    stmt = (
        sa.update(t)
        .where(t.c.id == run_id, t.c.status == "PENDING")
        .values(status="CANCELED", completed_at=now, error=error, cancel_requested_at=now, updated_at=now,
                version=t.c.version + 1)
    )
    return (await conn.execute(stmt)).rowcount == 1


async def request_cancel(conn: AsyncConnection, run_id: str, *, now: datetime) -> bool:
    """Mark an active run for cancellation by whoever executes it; False when it already ended."""
    stmt = (
        sa.update(t)
        .where(t.c.id == run_id, t.c.status.not_in(_terminal), t.c.cancel_requested_at.is_(None))
        .values(cancel_requested_at=now)
    )
    return (await conn.execute(stmt)).rowcount == 1


async def cancel_requested(conn: AsyncConnection, run_id: str) -> bool:
    stmt = sa.select(t.c.cancel_requested_at).where(t.c.id == run_id)
    return (await conn.execute(stmt)).scalar_one_or_none() is not None


async def watch_state(conn: AsyncConnection, run_id: str) -> tuple[str, int] | None:
    """(status, version) of a run: what a long-poll or stream checks between wake-ups."""
    row = (await conn.execute(sa.select(t.c.status, t.c.version).where(t.c.id == run_id))).first()
    return (row[0], row[1]) if row else None
