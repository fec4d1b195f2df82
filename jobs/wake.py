"""Wake-ups: how a process that wrote a run's progress tells realtime subscribers to look.

A job's reporter calls ``wake(run_id)`` after each committed write. Subscribers always read the
database (the source of truth); the wake-up only saves them from polling. The channel follows the
deployment: Redis pub/sub when runs go through ARQ (Redis is there anyway), PostgreSQL
LISTEN/NOTIFY when the database is PostgreSQL, otherwise in-process only (single-process inline).
Messages are a run id, or ``cancel:<run id>`` to ask whoever executes the run to stop it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from core.settings import Settings

Wake = Callable[[str], Awaitable[None]]
Closer = Callable[[], Awaitable[None]]

PG_CHANNEL = "campaign_chat_wake"
CANCEL_PREFIX = "cancel:"
PUBLISH_TIMEOUT_SECONDS = 2.0

log = logging.getLogger("campaign_chat.wake")


def channel_kind(settings: Settings) -> str:
    """``redis``, ``postgres`` or ``local``: every process of one deployment picks the same."""
    if settings.task_backend == "arq":
        return "redis"
    if settings.database_url.startswith("postgresql"):
        return "postgres"
    return "local"


def redis_channel(settings: Settings) -> str:
    # Scoped by the queue name so deployments (and test runs) sharing a Redis never hear each other.
    return f"{settings.arq_queue_name}:wake"


def asyncpg_dsn(database_url: str) -> str:
    return "postgresql://" + database_url.split("://", 1)[1]


def cancel_message(run_id: str) -> str:
    return CANCEL_PREFIX + run_id


async def _noop() -> None:
    return None


class RedisPublisher:
    def __init__(self, url: str, channel: str) -> None:
        import redis.asyncio as redis

        self._client: Any = redis.Redis.from_url(url)
        self._channel = channel

    async def __call__(self, message: str) -> None:
        await asyncio.wait_for(self._client.publish(self._channel, message), PUBLISH_TIMEOUT_SECONDS)

    async def close(self) -> None:
        await self._client.aclose()


class PostgresPublisher:
    """One lazily opened asyncpg connection; NOTIFY is delivered to listeners on commit (autocommit here)."""

    def __init__(self, dsn: str, channel: str = PG_CHANNEL) -> None:
        self._dsn = dsn
        self._channel = channel
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self, message: str) -> None:
        import asyncpg

        async with self._lock:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncio.wait_for(asyncpg.connect(self._dsn), PUBLISH_TIMEOUT_SECONDS)
                await asyncio.wait_for(self._conn.execute("SELECT pg_notify($1, $2)", self._channel, message),
                                       PUBLISH_TIMEOUT_SECONDS)
            except Exception:
                await self._drop()
                raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None


async def build_wake(settings: Settings) -> tuple[Wake | None, Closer]:
    """This process's publisher and its closer; ``(None, noop)`` when only in-process wake-ups exist."""
    kind = channel_kind(settings)
    if kind == "redis":
        publisher: RedisPublisher | PostgresPublisher = RedisPublisher(settings.redis_url, redis_channel(settings))
    elif kind == "postgres":
        publisher = PostgresPublisher(asyncpg_dsn(settings.database_url))
    else:
        return None, _noop
    return publisher, publisher.close
