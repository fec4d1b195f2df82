"""API key repository. Only a SHA-256 of each key is stored.

Keys are 256-bit random tokens, so a fast hash is enough (nothing to brute-force), and lookup by
hash through a unique index means no string comparison on a secret ever happens in Python.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import api_keys as t

KEY_PREFIX = "cc_live_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewKey:
    id: str
    user_id: str
    key: str


async def create(conn: AsyncConnection, *, user_id: str | None, label: str | None, now: datetime) -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    owner = user_id or str(uuid.uuid4())
    await conn.execute(
        sa.insert(t).values(id=key_id, user_id=owner, key_hash=hash_key(key), label=label, created_at=now)
    )
    return NewKey(id=key_id, user_id=owner, key=key)


async def resolve(conn: AsyncConnection, key: str) -> str | None:
    """The user id a live key belongs to, else None."""
    stmt = sa.select(t.c.user_id).where(t.c.key_hash == hash_key(key), t.c.revoked_at.is_(None))
    return (await conn.execute(stmt)).scalar_one_or_none()


async def revoke(conn: AsyncConnection, *, key_or_id: str, now: datetime) -> bool:
    """Revoke by key id (``key_…``) or by the key itself."""
    match = t.c.id == key_or_id if key_or_id.startswith("key_") else t.c.key_hash == hash_key(key_or_id)
    result = await conn.execute(sa.update(t).where(match, t.c.revoked_at.is_(None)).values(revoked_at=now))
    return result.rowcount == 1


async def list_keys(conn: AsyncConnection, *, user_id: str | None = None) -> list[sa.RowMapping]:
    stmt = sa.select(t.c.id, t.c.user_id, t.c.label, t.c.created_at, t.c.revoked_at).order_by(t.c.created_at)
    if user_id:
        stmt = stmt.where(t.c.user_id == user_id)
    return [row._mapping for row in await conn.execute(stmt)]
