"""Erasing a session: the row, its runs, their events and the idempotency records that name them.

A run's ``payload`` holds what the user sent (the message, lead data), its events and ``output`` what
the model wrote, and an idempotency record can replay a run's id with a fresh token: none of it may
outlive the session. :func:`erase_session` deletes all of it in the caller's transaction, for
``DELETE …/{id}`` and for the retention purge (:func:`idle_sessions`).

Order matters on PostgreSQL: the session's run rows are locked before the session row (the order a
task's own transactions take them), and the runs are deleted before their events. A task still writing a batch
holds its run row's lock; the run's DELETE waits for that batch to commit, and the events' DELETE,
a later statement, then sees (and deletes) the batch too. Every later write of that task is
conditional on its run row or its claim and finds neither, so nothing comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from store.tables import idempotency_keys, run_events, runs, sessions

# Bound every IN (...) list: SQLite builds may cap a statement's parameters at 999.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Erased:
    session_id: str
    user_id: str
    holder: str | None  # the run holding the session's claim when it was erased (it may still be running)
    run_ids: list[str] = field(default_factory=list)  # our ids of every run erased


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def erase_session(conn: sa.Connection, *, session_id: str, user_id: str | None = None,
                        idle_since: datetime | None = None) -> Erased | None:
    """Delete the session (only ``user_id``'s, when given; only if still idle since ``idle_since``,
    when given) and everything stored about its runs. None when there was no such session."""
    # Lock order: a task's transactions lock its run row, then the session row (store.lifecycle). Erasing
    # takes the session's run rows first too, so the two wait for each other instead of deadlocking on
    # PostgreSQL (SQLite has one writer; FOR UPDATE renders nothing there).
    conn.execute(sa.select(runs.c.id).where(runs.c.session_id == session_id).order_by(runs.c.id).with_for_update())
    conditions = [sessions.c.id == session_id]
    if user_id is not None:
        conditions.append(sessions.c.user_id == user_id)
    if idle_since is not None:  # re-checked by the DELETE itself: a turn that just claimed it wins
        conditions += [sessions.c.updated_at < idle_since, sessions.c.task_status.is_(None)]
    stmt = sa.delete(sessions).where(*conditions).returning(sessions.c.user_id, sessions.c.claim_run_id)
    row = (conn.execute(stmt)).first()
    if row is None:
        return None
    owner, holder = row[0], row[1]
    stmt = sa.delete(runs).where(runs.c.session_id == session_id).returning(runs.c.id, runs.c.external_id)
    erased = (conn.execute(stmt)).all()
    run_ids = [r[0] for r in erased]
    public_ids = run_ids + [r[1] for r in erased if r[1]]
    for chunk in _chunks(run_ids):
        conn.execute(sa.delete(run_events).where(run_events.c.run_id.in_(chunk)))
    # A record's response names the run it replays (the id clients saw); a record still pending has no
    # run yet, and a replay of it is refused once the session is gone (services.idempotency).
    replayed = idempotency_keys.c.response["runId"].as_string()
    for chunk in _chunks(public_ids):
        conn.execute(sa.delete(idempotency_keys).where(idempotency_keys.c.user_id == owner,
                                                             replayed.in_(chunk)))
    return Erased(session_id=session_id, user_id=owner, holder=holder, run_ids=run_ids)


def idle_sessions(conn: sa.Connection, *, idle_since: datetime, limit: int) -> list[str]:
    """Sessions nobody changed since ``idle_since`` and that no task holds: what retention purges."""
    stmt = (
        sa.select(sessions.c.id)
        .where(sessions.c.updated_at < idle_since, sessions.c.task_status.is_(None))
        .order_by(sessions.c.updated_at)
        .limit(limit)
    )
    return [row[0] for row in conn.execute(stmt)]
