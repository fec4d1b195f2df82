"""Apply Alembic migrations from code (``campaign-chat migrate``, and serve on SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from store.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: serialises concurrent `migrate` runs (API and workers starting together).
_PG_LOCK_ID = 727_312_004


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> str | None:
    """Upgrade to ``revision``; idempotent. Returns the revision the database is at afterwards."""
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
