"""Engine set-up and the two transaction shapes the service uses.

``write()`` is a transaction that may write. On SQLite it starts with ``BEGIN IMMEDIATE`` so that a
read-then-write can never fail halfway with SQLITE_BUSY when another process (an ARQ worker on the
same file) wrote in between; the busy timeout makes it wait instead. On PostgreSQL it is a plain
READ COMMITTED transaction: the claim is a single conditional UPDATE, which is atomic there.
``read()`` is for reads only. On PostgreSQL it runs in autocommit mode: under READ COMMITTED each
statement takes its own snapshot even inside a transaction, so BEGIN/COMMIT would add two round
trips to every poll and guarantee nothing more.

Pooled PostgreSQL connections closed by the server (a restart, an administrator's terminate) are
dropped when checked out and replaced by fresh ones. That is checked locally (asyncpg notices the
closed socket itself), not with ``pool_pre_ping``: its ping is BEGIN; SELECT; ROLLBACK, four round
trips per checkout, more than most requests' own queries.
"""

from __future__ import annotations

import asyncio
import logging
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
DISPOSE_TIMEOUT_SECONDS = 10.0
log = logging.getLogger("campaign_chat.store")


class Database:
    """One engine per process, created at start-up and disposed at shutdown."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = _create_engine(url, echo=echo, pool_size=pool_size)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """No BEGIN/COMMIT: for a single statement that is atomic by itself (one round trip)."""
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            async with conn.begin():
                yield conn

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self, timeout: float = DISPOSE_TIMEOUT_SECONDS) -> None:
        """Close the pool's connections; bounded, so a connection whose close hangs cannot hold a
        shutdown (the process is ending: the server drops what is left when the socket goes)."""
        try:
            await asyncio.wait_for(self.engine.dispose(), timeout)
        except TimeoutError:
            log.warning("closing the database connections took over %ss; leaving the rest to the server", timeout)


def _create_engine(url: str, *, echo: bool, pool_size: int) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _sqlite_transaction_control(engine)
        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )
    _replace_closed_connections(engine)
    return engine


def _replace_closed_connections(engine: AsyncEngine) -> None:
    # A restarted PostgreSQL leaves closed connections in the pool. DisconnectionError at checkout
    # makes the pool discard the connection and check out (or open) another one.
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _server_went_away(dbapi_connection._connection):
            raise exc.DisconnectionError("connection closed by the server")


def _server_went_away(raw: Any) -> bool:
    """Local checks only, no round trip: asyncpg saw the close, or the idle socket has something to read.

    A pooled connection is idle: the server sends nothing to it unless it is going away (a FATAL
    termination, then EOF). The event loop may not have read that yet when a request checks the
    connection out right after a restart, so look at the socket itself (a zero-timeout select).
    """
    if raw.is_closed():
        return True
    transport = getattr(raw, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _sqlite_transaction_control(engine: AsyncEngine) -> None:
    # Take BEGIN away from the sqlite3 module so we can choose DEFERRED or IMMEDIATE per transaction.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
