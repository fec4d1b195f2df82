"""Run repository: one row per dispatched task, the local source of truth for realtime.

Every change bumps ``version`` and moves ``updated_at`` forward, so a subscriber's offset
``<updated_at ms>_<version>`` strictly increases. Status names are :class:`core.status.RunStatus`
(Trigger.dev's ``TaskRunStatus``). Moving a run to a terminal status is :mod:`store.lifecycle`'s job.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from core.status import ACTIVE_STATUSES, RunStatus
from store.prepared import bound, set_clause, shape
from store.rows import RunEvent, RunRow, run_row
from store.tables import run_events, runs as t

_active = tuple(s.value for s in ACTIVE_STATUSES)


RUN_COLUMNS = ("id", "session_id", "user_id", "task", "backend", "status", "payload", "tags", "realtime_streams",
               "number", "attempts", "version", "created_at", "updated_at")


def new_run_values(
    *, run_id: str, session_id: str, user_id: str, task: str, backend: str, payload: dict[str, Any], tags: list[str],
    now: datetime,
) -> dict[str, Any]:
    """Column values of a freshly dispatched run (PENDING)."""
    return {
        "id": run_id, "session_id": session_id, "user_id": user_id, "task": task, "backend": backend,
        "status": RunStatus.PENDING.value, "payload": payload, "tags": tags, "realtime_streams": [], "number": 1,
        "attempts": 0, "version": 1, "created_at": now, "updated_at": now,
    }


def insert(conn: sa.Connection, **values: Any) -> None:
    """Insert a run; ``values`` as :func:`new_run_values` builds them."""
    conn.execute(sa.insert(t).values(**new_run_values(**values)))


_GET = sa.select(t).where(sa.or_(t.c.id == sa.bindparam("rid"), t.c.external_id == sa.bindparam("rid")))


def get(conn: sa.Connection, run_id: str) -> RunRow | None:
    """A run by our id or by the id its backend gave it."""
    row = (conn.execute(_GET, {"rid": run_id})).first()
    return run_row(row._mapping) if row else None


@lru_cache(maxsize=64)
def _update_statement(columns: tuple[str, ...], statuses: tuple[str, ...] | None) -> sa.Update:
    """UPDATE of ``columns`` (bound as ``v_<column>``) plus ``updated_at`` and ``version + 1``, for the
    run ``rid``, only while its status is one of ``statuses`` (any status when None). Built once per shape."""
    conditions = [t.c.id == sa.bindparam("rid")]
    if statuses is not None:
        conditions.append(t.c.status.in_(statuses))
    return sa.update(t).where(*conditions).values(**set_clause(t, columns), version=t.c.version + 1)


def _update(conn: sa.Connection, run_id: str, statuses: tuple[str, ...] | None, values: dict[str, Any]) -> bool:
    return conn.execute(_update_statement(shape(values), statuses), bound(values, rid=run_id)).rowcount == 1


def update(conn: sa.Connection, run_id: str, *, now: datetime, only_active: bool = False, **values: Any) -> bool:
    """Change a run; with ``only_active`` a run that already ended is left alone. True if a row changed."""
    return _update(conn, run_id, _active if only_active else None, {**values, "updated_at": now})


_START = (
    sa.update(t)
    .where(t.c.id == sa.bindparam("rid"), t.c.status == RunStatus.PENDING.value)
    .values(status=RunStatus.EXECUTING.value, started_at=sa.bindparam("now"), updated_at=sa.bindparam("now"),
            attempts=t.c.attempts + 1, version=t.c.version + 1)
)


def start(conn: sa.Connection, run_id: str, *, now: datetime) -> bool:
    """PENDING → EXECUTING, once: a redelivered or duplicated run finds it started and gets False."""
    return (conn.execute(_START, {"rid": run_id, "now": now})).rowcount == 1


def finish(
    conn: sa.Connection, run_id: str, *, status: RunStatus, now: datetime, from_statuses: tuple[str, ...] = _active,
    **values: Any,
) -> bool:
    """Move a run in one of ``from_statuses`` (any active one by default) to a terminal ``status``."""
    if not status.terminal:
        raise ValueError(f"{status} is not terminal")
    return _update(conn, run_id, tuple(from_statuses),
                   {**values, "status": status.value, "completed_at": now, "updated_at": now})


def stale_active(conn: sa.Connection, *, created_before: datetime, limit: int = 100) -> list[RunRow]:
    """Runs still active long after any lease could cover them."""
    stmt = sa.select(t).where(t.c.status.in_(_active), t.c.created_at < created_before).limit(limit)
    return [run_row(row._mapping) for row in conn.execute(stmt)]


def list_runs(
    conn: sa.Connection, *, session_id: str | None = None, status: RunStatus | None = None, limit: int = 50
) -> list[RunRow]:
    stmt = sa.select(t).order_by(t.c.created_at.desc()).limit(limit)
    if session_id:
        stmt = stmt.where(t.c.session_id == session_id)
    if status:
        stmt = stmt.where(t.c.status == status.value)
    return [run_row(row._mapping) for row in conn.execute(stmt)]


def pending_payloads(conn: sa.Connection, *, backend: str) -> list[dict[str, Any]]:
    """Payloads of the runs dispatched to ``backend`` that have not started, oldest first."""
    stmt = (sa.select(t.c.payload).where(t.c.backend == backend, t.c.status == RunStatus.PENDING.value)
            .order_by(t.c.created_at))
    return [row[0] for row in conn.execute(stmt)]


_INSERT_EVENTS = sa.insert(run_events)


def append_events(conn: sa.Connection, *, run_id: str, first_seq: int, events: list[dict[str, Any]],
                        now: datetime) -> None:
    """Store a batch of events with consecutive sequence numbers from ``first_seq``: one statement."""
    if events:
        rows = [{"run_id": run_id, "seq": first_seq + i, "event": e, "created_at": now} for i, e in enumerate(events)]
        conn.execute(_INSERT_EVENTS, rows)


def events_after(conn: sa.Connection, *, run_id: str, after_seq: int, limit: int = 500) -> list[RunEvent]:
    stmt = (
        sa.select(run_events.c.seq, run_events.c.created_at, run_events.c.event)
        .where(run_events.c.run_id == run_id, run_events.c.seq > after_seq)
        .order_by(run_events.c.seq)
        .limit(limit)
    )
    return [RunEvent(seq=row[0], created_at=row[1], event=row[2]) for row in conn.execute(stmt)]


def request_cancel(conn: sa.Connection, run_id: str, *, now: datetime) -> bool:
    """Mark an active run for cancellation by whoever executes it; False when it already ended."""
    stmt = (
        sa.update(t)
        .where(t.c.id == run_id, t.c.status.in_(_active), t.c.cancel_requested_at.is_(None))
        .values(cancel_requested_at=now)
    )
    return (conn.execute(stmt)).rowcount == 1


def cancel_requested(conn: sa.Connection, run_id: str) -> bool:
    stmt = sa.select(t.c.cancel_requested_at).where(t.c.id == run_id)
    return (conn.execute(stmt)).scalar_one_or_none() is not None


def watch_state(conn: sa.Connection, run_id: str) -> tuple[RunStatus, int] | None:
    """(status, version) of a run: what a long-poll or stream checks between wake-ups."""
    row = (conn.execute(sa.select(t.c.status, t.c.version).where(t.c.id == run_id))).first()
    return (RunStatus(row[0]), row[1]) if row else None
