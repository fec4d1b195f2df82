"""Migrations on both engines: 0003_session_memory adds the session's memory to existing rows (NULL:
never given) and comes back off cleanly; 0004_daily_usage adds the spend table and the idle-session
index, and comes back off; the code's known head is the scripts' head."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.ids import utcnow
from core.usage import Usage
from store import sessions, spend
from store.db import Database
from store.migrate import HEAD_REVISION, _config, database_revision, script_head, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database no migration has touched (PostgreSQL: one of its own, dropped afterwards)."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
        yield db
        await db.dispose()
        return
    base = make_url(request.getfixturevalue("service_env")["TEST_DATABASE_URL"])
    name = f"cc_migrations_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base.set(drivername="postgresql", database="postgres")
                                  .render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        db = Database(base.set(database=name).render_as_string(hide_password=False))
        try:
            yield db
        finally:
            await db.dispose()
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def downgrade(db: Database, revision: str) -> None:
    from alembic import command

    cfg = _config()
    async with db.write() as conn:
        def run(sync_conn: Any) -> None:
            cfg.attributes["connection"] = sync_conn
            command.downgrade(cfg, revision)

        await conn.run_sync(run)


async def columns(db: Database) -> set[str]:
    async with db.read() as conn:
        return await conn.run_sync(lambda c: {col["name"] for col in sa.inspect(c).get_columns("chat_sessions")})


def test_the_known_head_is_the_scripts_head_and_it_is_the_daily_usage() -> None:
    assert script_head() == HEAD_REVISION == "0004_daily_usage"


async def test_session_memory_comes_to_existing_sessions_as_never_given_and_goes_back_off(empty_db: Database) -> None:
    assert await upgrade(empty_db, "0002_run_cancel") == "0002_run_cancel"
    assert not {"available_var_names", "sequence_context"} & await columns(empty_db)
    async with empty_db.write() as conn:  # a session written by the previous release
        await conn.execute(sa.text(
            "INSERT INTO chat_sessions (id, user_id, campaign_id, node_id, created_at, updated_at) "
            "VALUES ('s1', 'u1', 'c1', 'n1', :now, :now)"), {"now": utcnow().replace(tzinfo=None)})

    assert await upgrade(empty_db) == HEAD_REVISION
    async with empty_db.read() as conn:
        row = await conn.run_sync(sessions.get, user_id="u1", session_id="s1")
        assert await database_revision(conn) == HEAD_REVISION
    assert row is not None and (row.available_var_names, row.sequence_context) == (None, None)

    await downgrade(empty_db, "0002_run_cancel")
    assert not {"available_var_names", "sequence_context"} & await columns(empty_db)
    assert await upgrade(empty_db) == HEAD_REVISION
    assert {"available_var_names", "sequence_context"} <= await columns(empty_db)


async def tables_and_indexes(db: Database) -> tuple[set[str], set[str]]:
    async with db.read() as conn:
        return await conn.run_sync(lambda c: (set(sa.inspect(c).get_table_names()),
                                              {i["name"] for i in sa.inspect(c).get_indexes("chat_sessions")}))


async def test_daily_usage_comes_with_its_index_and_goes_back_off(empty_db: Database) -> None:
    assert await upgrade(empty_db, "0003_session_memory") == "0003_session_memory"
    tables, indexes = await tables_and_indexes(empty_db)
    assert "daily_usage" not in tables and "ix_chat_sessions_updated" not in indexes

    assert await upgrade(empty_db) == HEAD_REVISION
    tables, indexes = await tables_and_indexes(empty_db)
    assert "daily_usage" in tables and "ix_chat_sessions_updated" in indexes
    async with empty_db.write() as conn:
        await conn.run_sync(spend.add, user_id="u1", day=utcnow().date(), usage=Usage(input_tokens=7, output_tokens=3))
        await conn.run_sync(spend.add, user_id="u1", day=utcnow().date(), usage=Usage(input_tokens=1, output_tokens=1))
        assert await conn.run_sync(spend.tokens_on, user_id="u1", day=utcnow().date()) == 12

    await downgrade(empty_db, "0003_session_memory")
    tables, indexes = await tables_and_indexes(empty_db)
    assert "daily_usage" not in tables and "ix_chat_sessions_updated" not in indexes
