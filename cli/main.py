"""``campaign-chat``: serve the API, migrate, manage API keys (and more as subcommands register)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, NotMigrated
from core.ids import utcnow
from core.settings import Settings
from ops.process import configure_process

if TYPE_CHECKING:  # the store (and SQLAlchemy) load when a command runs, not for `--help`
    from store import keys
    from store.db import Database


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    shared_metrics = _metrics_shared_with_the_embedded_worker(settings)
    if settings.task_backend == "inline" and settings.embedded_worker:
        from bridge.embedded import prestart

        prestart()  # its imports overlap the API's below: both are ready in about the time of the slower
    from api import server
    from api.app import create_app

    app = create_app(settings)
    try:
        server.run(app, settings, host=args.host or settings.host, port=args.port or settings.port)
    finally:
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)
    return 0


def _metrics_shared_with_the_embedded_worker(settings: Settings) -> Path | None:
    """The embedded worker counts the turns it runs: give it and the API one prometheus multiprocess
    directory, so this API's /metrics sums both (unless the operator set PROMETHEUS_MULTIPROC_DIR).
    Must run before prometheus_client is imported: it picks its storage then."""
    if not (settings.metrics_enabled and settings.task_backend == "inline" and settings.embedded_worker):
        return None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = Path(tempfile.mkdtemp(prefix="campaign-chat-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


async def _with_db(settings: Settings, work: Callable[[Database], Any], *, check_schema: bool = True) -> Any:
    """Run ``work`` on the configured database, which must hold this release's schema (else
    :class:`NotMigrated`, which :func:`main` turns into a plain message and exit status 3). The embedded
    SQLite database migrates itself, as ``serve`` does; PostgreSQL waits for ``campaign-chat migrate``."""
    from store.db import Database
    from store.migrate import require_schema

    db = Database(settings.database_url)
    try:
        if check_schema:
            await require_schema(db, migrate=settings.is_sqlite)
        return await work(db)
    finally:
        await db.dispose()


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from store.migrate import upgrade

    revision = asyncio.run(_with_db(settings, upgrade, check_schema=False))
    print(f"database at revision {revision}")
    return 0


def _keys_create(settings: Settings, args: argparse.Namespace) -> int:
    from store import keys

    async def work(db: Database) -> keys.NewKey:
        async with db.write() as conn:
            return await keys.create(conn, user_id=args.user_id, label=args.label, now=utcnow())

    created = asyncio.run(_with_db(settings, work))
    print(f"key id:  {created.id}", file=sys.stderr)
    print(f"user id: {created.user_id}", file=sys.stderr)
    print(created.key)
    return 0


def _keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from store import keys

    async def work(db: Database) -> bool:
        async with db.write() as conn:
            return await keys.revoke(conn, key_or_id=args.key, now=utcnow())

    if asyncio.run(_with_db(settings, work)):
        print("revoked (instances that cached it stop accepting it within a few seconds)")
        return 0
    print("no such live key", file=sys.stderr)
    return 1


def _keys_list(settings: Settings, args: argparse.Namespace) -> int:
    from store import keys

    async def work(db: Database) -> list[Any]:
        async with db.read() as conn:
            return await keys.list_keys(conn, user_id=args.user_id)

    for row in asyncio.run(_with_db(settings, work)):
        state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "live"
        print(f"{row['id']}  user={row['user_id']}  created={row['created_at']:%Y-%m-%d %H:%M}  {state}  {row['label'] or ''}")
    return 0


def _uuid(value: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UUID") from None


# Other modules add subcommands here (worker, runs, sessions): name -> (configure parser, handler).
EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="campaign-chat", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (migrates the embedded SQLite database itself)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(handler=_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations to DATABASE_URL (idempotent)")
    migrate.set_defaults(handler=_migrate)

    keys_cmd = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys_cmd.add_parser("create", help="create a key; prints the key alone on the last line")
    create.add_argument("--user-id", type=_uuid, default=None, help="owner (a new user id when omitted)")
    create.add_argument("--label", default=None)
    create.set_defaults(handler=_keys_create)
    revoke = keys_cmd.add_parser("revoke", help="revoke a key by its id (key_…) or by the key itself")
    revoke.add_argument("key")
    revoke.set_defaults(handler=_keys_revoke)
    listing = keys_cmd.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--user-id", default=None)
    listing.set_defaults(handler=_keys_list)

    for add in EXTRA_COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _register_optional_commands()
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        # Long-running processes log to stdout; admin commands keep stdout for their output.
        configure_process(settings, stream=sys.stdout if args.command in ("serve", "worker") else sys.stderr)
        return int(args.handler(settings, args) or 0)
    except ConfigError as exc:
        print(f"campaign-chat: configuration error: {exc}", file=sys.stderr)
        return 2
    except NotMigrated as exc:
        print(f"campaign-chat: database {exc}", file=sys.stderr)
        return 3


def _register_optional_commands() -> None:
    """Import the modules that contribute subcommands (each appends to EXTRA_COMMANDS once)."""
    import importlib

    for module in ("cli.worker", "cli.runs"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


if __name__ == "__main__":
    # `python -m cli.main` runs this file as __main__; subcommand modules register on `cli.main`, so use that one.
    from cli.main import main as registered_main

    sys.exit(registered_main())
