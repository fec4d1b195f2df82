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

from core.errors import NotMigrated
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


def schema_problem(revision: str | None) -> str | None:
    """What is wrong with a database at ``revision`` for this release, in words an operator can act on;
    None when it is at :data:`HEAD_REVISION`. Revisions start with their 4-digit ordinal (``0002_…``),
    which tells an older database from one a newer release migrated."""
    if revision == HEAD_REVISION:
        return None
    if revision is None:
        return "not migrated: the database has no campaign-chat schema; run `campaign-chat migrate`"
    if revision[:4] < HEAD_REVISION[:4]:
        return (f"not migrated: the database is at migration {revision}, this release needs {HEAD_REVISION}; "
                "run `campaign-chat migrate`")
    return (f"not migrated: the database is at migration {revision}, newer than this release knows "
            f"({HEAD_REVISION}); run the release that migrated it")


async def require_schema(db: Database, *, migrate: bool = False) -> None:
    """Raise :class:`NotMigrated` unless the database is at this release's migration (one query). With
    ``migrate``, a database that is behind (or empty) is upgraded instead: what the embedded SQLite
    database does everywhere."""
    async with db.read() as conn:
        revision = await database_revision(conn)
    problem = schema_problem(revision)
    if problem is None:
        return
    if migrate and (revision is None or revision[:4] < HEAD_REVISION[:4]):
        await upgrade(db)
        return
    raise NotMigrated(problem)


def is_missing_schema(exc: BaseException) -> bool:
    """Whether a database error means tables or columns this code uses do not exist (not migrated)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in ("42P01", "42703"):  # PostgreSQL: undefined table / column
        return True
    return orig is not None and any(text in str(orig) for text in ("no such table", "no such column"))


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
