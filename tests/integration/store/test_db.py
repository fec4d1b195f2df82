"""The database layer on PostgreSQL: pooled connections the server closed are replaced, not handed out."""

from __future__ import annotations

import asyncio

import asyncpg
import sqlalchemy as sa

from store.db import Database


def dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def pooled_pids(db: Database, count: int) -> set[int]:
    """Open ``count`` connections at once (so the pool holds that many) and return their server pids."""
    conns = [await db.engine.connect() for _ in range(count)]
    try:
        return {(await c.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one() for c in conns}
    finally:
        for conn in conns:
            await conn.close()


async def terminate(url: str, pids: set[int]) -> None:
    admin = await asyncpg.connect(dsn(url))
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", list(pids))
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", list(pids)):
            await asyncio.sleep(0.02)
    finally:
        await admin.close()


async def test_reads_and_writes_succeed_after_the_server_closed_every_pooled_connection(pg_url: str) -> None:
    db = Database(pg_url, pool_size=3)
    try:
        before = await pooled_pids(db, 3)
        await terminate(pg_url, before)  # what a PostgreSQL restart does to the pool
        await asyncio.sleep(0.05)

        for _ in range(4):
            async with db.read() as conn:
                assert (await conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
            async with db.write() as conn:
                assert (await conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
        assert (await pooled_pids(db, 3)).isdisjoint(before)
    finally:
        await db.dispose()


async def test_a_read_sees_what_another_connection_committed(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        async with db.write() as conn:
            await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS db_visibility_probe (n int)"))
            await conn.execute(sa.text("DELETE FROM db_visibility_probe"))
        async with db.read() as reader:
            assert (await reader.execute(sa.text("SELECT count(*) FROM db_visibility_probe"))).scalar_one() == 0
            async with db.write() as writer:
                await writer.execute(sa.text("INSERT INTO db_visibility_probe VALUES (1)"))
            assert (await reader.execute(sa.text("SELECT count(*) FROM db_visibility_probe"))).scalar_one() == 1
        async with db.write() as conn:
            await conn.execute(sa.text("DROP TABLE db_visibility_probe"))
    finally:
        await db.dispose()
