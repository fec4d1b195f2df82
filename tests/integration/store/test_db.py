"""The database layer on PostgreSQL: pooled connections the server closed are replaced, not handed out."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

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


async def test_a_transaction_left_idle_past_the_timeout_is_ended_and_its_row_locks_freed(pg_url: str) -> None:
    """A process frozen inside a transaction (SIGSTOP, a stopped VM) must not hold its row locks for as
    long as it stays frozen: the lease reaper's release of that session row would wait on them. Without
    ``idle_in_transaction_seconds`` the second UPDATE below waits for the whole bound and the test fails."""
    table = f"idle_probe_{uuid.uuid4().hex[:8]}"
    frozen, other = Database(pg_url, idle_in_transaction_seconds=1), Database(pg_url)
    async with other.autocommit() as conn:
        await conn.exec_driver_sql(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
        await conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, 0)")
    held = await frozen.engine.connect()
    try:
        await held.begin()
        await held.exec_driver_sql(f"UPDATE {table} SET v = 1 WHERE id = 1")  # locks the row, then goes quiet
        began = time.monotonic()
        async with asyncio.timeout(10), other.autocommit() as conn:
            await conn.exec_driver_sql(f"UPDATE {table} SET v = 2 WHERE id = 1")
        waited = time.monotonic() - began
        assert 0.5 < waited < 5, waited  # blocked by the lock, freed once the server ended the idle transaction
        async with other.autocommit() as conn:
            assert (await conn.exec_driver_sql(f"SELECT v FROM {table}")).scalar_one() == 2  # the frozen write never landed
    finally:
        with contextlib.suppress(Exception):
            await held.close()
        async with other.autocommit() as conn:
            await conn.exec_driver_sql(f"DROP TABLE {table}")
        await frozen.dispose()
        await other.dispose()
