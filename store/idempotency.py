"""Idempotency-key repository: every query on ``idempotency_keys``.

A record is (user, scoped key) -> (request hash, response). ``response`` is NULL while the first
request is still dispatching ("pending") and holds what a replay needs once it has dispatched.
:func:`reserve` is the one statement that decides which of several concurrent requests owns a key:
an INSERT that does nothing on conflict. On PostgreSQL a concurrent INSERT of the same primary key
waits for the first transaction to end, so the loser then sees the winner's committed row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import idempotency_keys as t


@dataclass(frozen=True, slots=True)
class Record:
    request_hash: str
    response: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime


def _owned(user_id: str, key: str) -> sa.ColumnElement[bool]:
    return sa.and_(t.c.user_id == user_id, t.c.key == key)


async def reserve(
    conn: AsyncConnection, *, user_id: str, key: str, request_hash: str, now: datetime, expires_at: datetime,
    pending_before: datetime,
) -> bool:
    """Take ``key`` for this request: True when this call inserted the (pending) record.

    A record that expired, or that stayed pending since before ``pending_before`` (its dispatcher
    died), is dropped first so the key can be used again.
    """
    stale = sa.or_(t.c.expires_at <= now, sa.and_(t.c.response.is_(None), t.c.created_at <= pending_before))
    await conn.execute(sa.delete(t).where(_owned(user_id, key), stale))
    # sa.null(): a bare None would be stored as the JSON value null, which IS NULL does not match.
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(t).values(user_id=user_id, key=key, request_hash=request_hash, response=sa.null(), created_at=now,
                            expires_at=expires_at).on_conflict_do_nothing(index_elements=[t.c.user_id, t.c.key])
    return (await conn.execute(stmt)).rowcount == 1


async def get(conn: AsyncConnection, *, user_id: str, key: str) -> Record | None:
    stmt = sa.select(t.c.request_hash, t.c.response, t.c.created_at, t.c.expires_at).where(_owned(user_id, key))
    row = (await conn.execute(stmt)).first()
    return Record(row[0], row[1], row[2], row[3]) if row else None


async def complete(conn: AsyncConnection, *, user_id: str, key: str, response: dict[str, Any]) -> None:
    """Store what replays return; from now on the key answers with it until it expires."""
    await conn.execute(sa.update(t).where(_owned(user_id, key)).values(response=response))


async def forget(conn: AsyncConnection, *, user_id: str, key: str) -> None:
    """Drop a pending record whose dispatch failed, so a retry with the same key dispatches again."""
    await conn.execute(sa.delete(t).where(_owned(user_id, key), t.c.response.is_(None)))


def purge_expired(conn: sa.Connection, *, now: datetime) -> int:
    """Delete every expired record (the lease reaper calls this, a unit of work); the number deleted."""
    return conn.execute(sa.delete(t).where(t.c.expires_at <= now)).rowcount or 0
