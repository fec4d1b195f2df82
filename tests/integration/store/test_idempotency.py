"""The idempotency-key store: one owner per key under concurrent transactions, and when a key frees up."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from core.ids import utcnow
from store import idempotency
from store.db import Database


USER = ""


@pytest.fixture(autouse=True)
def fresh_user() -> None:
    global USER
    USER = str(uuid.uuid4())  # the PostgreSQL database is shared by the whole run


async def reserve(conn, key: str = "k", request_hash: str = "h", *, now=None, ttl: int = 3600, pending: int = 60) -> bool:  # type: ignore[no-untyped-def]
    now = now or utcnow()
    return await idempotency.reserve(conn, user_id=USER, key=key, request_hash=request_hash, now=now,
                                     expires_at=now + timedelta(seconds=ttl), pending_before=now - timedelta(seconds=pending))


async def test_a_concurrent_reservation_waits_for_the_first_and_then_loses(db: Database) -> None:
    first_reserved = asyncio.Event()
    finish_first = asyncio.Event()

    async def first() -> bool:
        async with db.write() as conn:
            won = await reserve(conn)
            first_reserved.set()
            await finish_first.wait()  # hold the transaction open: the record is not committed yet
            return won

    async def second() -> bool:
        await first_reserved.wait()
        async with db.write() as conn:
            return await reserve(conn)

    one = asyncio.create_task(first())
    two = asyncio.create_task(second())
    await first_reserved.wait()
    await asyncio.sleep(0.3)
    assert not two.done()  # blocked behind the first transaction (row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite)
    finish_first.set()
    assert await one is True
    assert await two is False


async def test_a_rolled_back_reservation_leaves_the_key_free(db: Database) -> None:
    try:
        async with db.write() as conn:
            assert await reserve(conn)
            raise RuntimeError("claim refused")
    except RuntimeError:
        pass
    async with db.write() as conn:
        assert await reserve(conn)


async def test_a_pending_record_is_taken_over_only_after_the_pending_window(db: Database) -> None:
    start = utcnow()
    async with db.write() as conn:
        assert await reserve(conn, now=start)
    async with db.write() as conn:
        assert not await reserve(conn, now=start + timedelta(seconds=30))  # its dispatcher may still be working
        assert await reserve(conn, now=start + timedelta(seconds=61))  # the dispatcher died: free again


async def test_a_completed_record_lasts_until_it_expires_then_is_purged(db: Database) -> None:
    start = utcnow()
    async with db.write() as conn:
        assert await reserve(conn, now=start, ttl=120)
        await idempotency.complete(conn, user_id=USER, key="k", response={"runId": "run_1", "tokenClaims": {}})
    async with db.write() as conn:
        assert not await reserve(conn, now=start + timedelta(seconds=100))  # completed: never "stale pending"
        record = await idempotency.get(conn, user_id=USER, key="k")
        assert record is not None and record.response == {"runId": "run_1", "tokenClaims": {}}
    async with db.write() as conn:
        assert await conn.run_sync(idempotency.purge_expired, now=start + timedelta(seconds=121)) >= 1
        assert await idempotency.get(conn, user_id=USER, key="k") is None


async def test_forget_drops_only_a_pending_record(db: Database) -> None:
    async with db.write() as conn:
        assert await reserve(conn, key="pending")
        assert await reserve(conn, key="done")
        await idempotency.complete(conn, user_id=USER, key="done", response={"runId": "run_2", "tokenClaims": {}})
        await idempotency.forget(conn, user_id=USER, key="pending")
        await idempotency.forget(conn, user_id=USER, key="done")
        assert await idempotency.get(conn, user_id=USER, key="pending") is None
        assert await idempotency.get(conn, user_id=USER, key="done") is not None
