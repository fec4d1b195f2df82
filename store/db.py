"""Engine set-up and the two transaction shapes the service uses.

``write()`` is a transaction that may write. On SQLite it starts with ``BEGIN IMMEDIATE`` so that a
read-then-write can never fail halfway with SQLITE_BUSY when another process (an ARQ worker on the
same file) wrote in between; the busy timeout makes it wait instead. On PostgreSQL it is a plain
READ COMMITTED transaction: the claim is a single conditional UPDATE, which is atomic there.
``read()`` is for reads only. On PostgreSQL it runs in autocommit mode: under READ COMMITTED each
statement takes its own snapshot even inside a transaction, so BEGIN/COMMIT would add two round
trips to every poll and guarantee nothing more.

``run(work, ...)`` runs a synchronous unit of work (SQLAlchemy Core on a sync ``Connection``) in one
transaction. On SQLite it is ONE hop to a thread that owns its connection: aiosqlite through
SQLAlchemy's async adapter pays a thread hop per cursor, execute, fetch, close, BEGIN, COMMIT and reset
(9 for a GET, 11 for a claim), and keeps the write lock across event-loop turns between them. The hot
paths (the claim, the poll, a run's start, events and end) use it. On PostgreSQL the same function runs
through ``AsyncConnection.run_sync`` on the async pool: its round trips are the statements it issues.

On SQLite, the writers of one database file (the API, its embedded worker, the CLI) take turns on a
lock file beside it (:class:`_WriterTurns`) before ``BEGIN IMMEDIATE``. SQLite's own wait for a locked
database sleeps 1, 2, 5, 10, 15, 20, 25 … ms between tries, so a claim that found the worker writing
slept until the next try however soon the worker finished: in a storm of claims beside a draining worker,
5–30 ms waits of the API's single writer thread set the pace (p99 of 1–2.6 s in a slow phase of the
development VM). A waiting writer now starts within about 0.1 ms of the lock file's release.

A process frozen in the middle of a transaction (a GC pause, a stopped VM, SIGSTOP) keeps that
transaction's row locks, and the lease reaper's writes to those rows would wait for as long as it
stays frozen: a dead worker would hold its session far past its lease. The API and every process
that runs tasks therefore open PostgreSQL connections with ``idle_in_transaction_session_timeout``
set to the claim's lease (``idle_in_transaction_seconds``): no unit of work here idles inside a
transaction for milliseconds, let alone a lease, so only a frozen or stuck one is ended by it.

Pooled PostgreSQL connections closed by the server (a restart, an administrator's terminate) are
dropped when checked out and replaced by fresh ones. That is checked locally (asyncpg notices the
closed socket itself), not with ``pool_pre_ping``: its ping is BEGIN; SELECT; ROLLBACK, four round
trips per checkout, more than most requests' own queries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.pool import NullPool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

try:
    import fcntl
except ImportError:  # not a POSIX system: writers wait with SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A writer's turn (store.db._WriterTurns) is milliseconds; one held longer than this belongs to a
# stopped process, and the writer goes on to SQLite's own wait (so at most this much longer in all).
WRITER_TURN_WAIT_S = 5.0
DISPOSE_TIMEOUT_SECONDS = 10.0
# PostgreSQL: how long the writes that must not be held up by a stalled transaction (the claim, the lease
# reaper's sweep) wait for a row lock before giving up. A live writer holds a row for milliseconds; a
# frozen one, until ``idle_in_transaction_session_timeout`` ends its transaction (one lease).
ROW_LOCK_WAIT_MS = 500
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout fired
log = logging.getLogger("campaign_chat.store")
P = ParamSpec("P")
T = TypeVar("T")
Work = Callable[Concatenate[sa.Connection, P], T]


class Database:
    """One engine per process, created at start-up and disposed at shutdown."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10,
                 idle_in_transaction_seconds: float | None = None) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = _create_engine(url, echo=echo, pool_size=pool_size,
                                     idle_in_transaction_seconds=idle_in_transaction_seconds)
        in_file = self.is_sqlite and make_url(url).database not in (None, "", ":memory:")
        self._threads = _SQLiteThreads(url, echo=echo) if in_file else None

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

    async def run(self, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(conn, *args, **kwargs)`` in one write transaction (see the module docstring)."""
        if self._threads is not None:
            return await self._threads.run(self._threads.writer, work, *args, **kwargs)
        async with self.write() as conn:
            return await conn.run_sync(work, *args, **kwargs)

    async def run_read(self, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(conn, *args, **kwargs)`` reading only (SQLite: a reader thread, never queued behind writes)."""
        if self._threads is not None:
            return await self._threads.run(self._threads.reader, work, *args, **kwargs)
        async with self.read() as conn:
            return await conn.run_sync(work, *args, **kwargs)

    def sync_engines(self) -> list[sa.Engine]:
        """Every engine that sends statements (for instrumentation: ``ops.metrics.count_statements``)."""
        engines = [self.engine.sync_engine]
        if self._threads is not None:
            engines.append(self._threads.engine)
        return engines

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self, timeout: float = DISPOSE_TIMEOUT_SECONDS) -> None:
        """Close the pool's connections; bounded, so a connection whose close hangs cannot hold a
        shutdown (the process is ending: the server drops what is left when the socket goes)."""
        if self._threads is not None:
            await asyncio.to_thread(self._threads.close)
        try:
            async with asyncio.timeout(timeout):
                await self.engine.dispose()
        except TimeoutError:
            log.warning("closing the database connections took over %ss; leaving the rest to the server", timeout)


def lock_wait_ended(exc: exc.DBAPIError) -> bool:
    """True when PostgreSQL ended a statement because its row-lock wait reached ``lock_timeout``."""
    return getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE  # as store.migrate reads it


class RowLockWaitEnded(Exception):
    """PostgreSQL: a statement of :func:`with_bounded_lock_wait` waited ``ROW_LOCK_WAIT_MS`` for a row lock
    and gave up; its transaction is aborted (nothing of it is kept). A stalled transaction holds the row."""


def bound_lock_waits(conn: sa.Connection) -> None:
    """PostgreSQL: for the rest of this transaction, a row lock is waited for at most ``ROW_LOCK_WAIT_MS``
    (one ``SET LOCAL``). SQLite has one writer at a time and no row locks: nothing to do."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{ROW_LOCK_WAIT_MS}ms'")


def with_bounded_lock_wait(conn: sa.Connection, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work(conn, *args, **kwargs)`` under :func:`bound_lock_waits`, for a rare write that must not wait
    a lease on a frozen writer's row; raises :class:`RowLockWaitEnded` when a wait ran out."""
    bound_lock_waits(conn)
    try:
        return work(conn, *args, **kwargs)
    except exc.DBAPIError as error:
        if lock_wait_ended(error):
            raise RowLockWaitEnded(str(error.orig)) from error
        raise


def _create_engine(url: str, *, echo: bool, pool_size: int,
                   idle_in_transaction_seconds: float | None = None) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _sqlite_transaction_control(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if idle_in_transaction_seconds:
        timeout_ms = str(int(idle_in_transaction_seconds * 1000))
        connect_args["server_settings"] = {"idle_in_transaction_session_timeout": timeout_ms}
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args=connect_args,
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


def _sqlite_transaction_control(engine: AsyncEngine | sa.Engine) -> None:
    # Take BEGIN away from the sqlite3 module so we can choose DEFERRED or IMMEDIATE per transaction.
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(target, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(target, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


class _WriterTurns:
    """Write transactions of one SQLite file, one at a time across processes, handed over promptly.

    An exclusive ``flock`` on ``<database>.writer-lock`` is held from just before ``BEGIN IMMEDIATE`` to
    just after the COMMIT (or ROLLBACK), always within one call on a database thread, never across an
    await. A waiting writer retries after 50 µs, then every ``MAX_PAUSE_S``, so it starts about 0.1 ms
    after the holder's release instead of at SQLite's next try.
    The wait is bounded: after ``WRITER_TURN_WAIT_S`` the writer goes on without the file lock and
    SQLite's busy handler decides as before, so a stopped process holding it cannot hang the others.
    A writer that does not take turns (the async engine's few writes, another tool) is waited for by
    SQLite as before; the lock dies with the process that held it.
    """

    MAX_PAUSE_S = 0.0001  # a storm A/B: 0.1 ms handed over faster than 0.5 ms, as fast as a blocking lock

    def __init__(self, database: str) -> None:
        self._fd: int | None = None
        if fcntl is None:
            return
        try:
            self._fd = os.open(database + ".writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            log.warning("no writer lock file beside %s (%s); writers wait with SQLite's busy handler", database, error)

    def take(self) -> bool:
        """Wait for this process's turn; False when it could not be had in time (go on without it)."""
        if self._fd is None:
            return False
        pause, deadline = 0.00005, time.monotonic() + WRITER_TURN_WAIT_S
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    log.warning("the SQLite writer lock was held for over %ss; writing without it",
                                WRITER_TURN_WAIT_S)
                    return False
                time.sleep(pause)
                pause = min(pause * 2, self.MAX_PAUSE_S)
            except OSError as error:  # a file system without flock: stop trying
                log.warning("the SQLite writer lock is unavailable (%s); writers wait with SQLite's busy handler",
                            error)
                self.close()
                return False

    def give_back(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _SQLiteThreads:
    """Sync SQLite connections confined to two threads: one writer (SQLite has one writer at a time
    anyway; ``BEGIN IMMEDIATE``) and one reader (WAL readers never wait for the writer)."""

    def __init__(self, url: str, *, echo: bool) -> None:
        sync_url = sa.make_url(url).set(drivername="sqlite")
        self.engine = sa.create_engine(sync_url, echo=echo, poolclass=NullPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                     "check_same_thread": False})
        _sqlite_transaction_control(self.engine)
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._opened: list[sa.Connection] = []
        self._lock = threading.Lock()
        self.turns = _WriterTurns(str(sync_url.database))

    async def run(self, executor: ThreadPoolExecutor, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        begin = "BEGIN IMMEDIATE" if executor is self.writer else "BEGIN"
        return await asyncio.get_running_loop().run_in_executor(executor, self._call, begin, work, args, kwargs)

    def _call(self, begin: str, work: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        conn = self._connection(begin)
        turn = begin == "BEGIN IMMEDIATE" and self.turns.take()
        try:
            with conn.begin():
                return work(conn, *args, **kwargs)
        except exc.DBAPIError as error:
            if error.connection_invalidated or conn.invalidated:
                self._local.conn = None
            raise
        finally:
            if turn:
                self.turns.give_back()

    def _connection(self, begin: str) -> sa.Connection:
        conn: sa.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect().execution_options(sqlite_begin=begin)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.reader.shutdown(wait=True)
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self.turns.close()
        self.engine.dispose()
