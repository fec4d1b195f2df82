"""Apply Alembic migrations from code (``campaign-chat migrate``, and serve on SQLite), and tell
which migration level a database is at.

A job checks the level before touching a session (:func:`database_revision` against
:data:`HEAD_REVISION`): the API, its workers and the Trigger.dev bundle are deployed separately, and a
job must refuse a database whose schema it was not written for rather than misread it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from store.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration this code knows; tests/store keep it equal to the scripts' head.
HEAD_REVISION = "0004_daily_usage"
# Any fixed 64-bit number: serialises concurrent `migrate` runs (API and workers starting together).
_PG_LOCK_ID = 727_312_004


def _config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def script_head() -> str | None:
    """The head revision of the migration scripts on disk (reads them: for tests and tools)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


async def database_revision(conn: AsyncConnection) -> str | None:
    """The revision the database was migrated to; None when it was never migrated."""
    try:
        row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
    except Exception:  # noqa: BLE001 - no alembic_version table: never migrated
        return None
    return row[0] if row else None


async def upgrade(db: Database, revision: str = "head") -> str | None:
    """Upgrade to ``revision``; idempotent. Returns the revision the database is at afterwards."""
    from alembic import command

    cfg = _config()
    async with db.write() as conn:
        if not db.is_sqlite:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})

        def run(sync_conn: Any) -> str | None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)
            row = sync_conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
            return row[0] if row else None

        return await conn.run_sync(run)
