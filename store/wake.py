"""Wake-ups: how a process that wrote a run's progress tells realtime subscribers to look.

Subscribers always read the database (the source of truth); a wake-up only saves them from polling.
A message is a run id, or ``cancel:<run id>`` to ask whoever executes the run to stop it. The
channel follows the deployment, and every process of one deployment picks the same:

    TASK_BACKEND=arq            Redis pub/sub on ``<queue name>:wake``
    PostgreSQL DATABASE_URL     LISTEN/NOTIFY on ``campaign_chat_wake``
    otherwise (SQLite)          this process only, plus the embedded worker's pipe (bridge.embedded)

:class:`WakeHub` fans a message out to everyone in this process watching that run; a watcher is
registered *before* its first database read, so a write that commits between the read and the wait
still wakes it. :class:`WakeChannel` is a process's hub, its listener on the deployment's channel
and its publisher. When no cross-process channel is up, waits are capped at a short poll interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.cancel import cancel_until_done
from core.settings import Settings
from store.db import Database

Wake = Callable[[str], Awaitable[None]]
CancelHandler = Callable[[str], Awaitable[Any]]

PG_CHANNEL = "campaign_chat_wake"
CANCEL_PREFIX = "cancel:"
PUBLISH_TIMEOUT_SECONDS = 2.0
RECONNECT_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 5.0
SAFETY_POLL_SECONDS = 5.0  # a lost message costs at most this much delay
FALLBACK_POLL_SECONDS = 1.0  # no channel from other processes: the slow poll

log = logging.getLogger("campaign_chat.wake")


def channel_kind(settings: Settings) -> str:
    """``redis``, ``postgres`` or ``local``."""
    if settings.uses_redis:
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


def publisher(settings: Settings, db: Database, redis: Any) -> Wake | None:
    """This process's publisher to the other processes of the deployment (None: no such channel)."""
    kind = channel_kind(settings)
    if kind == "redis":
        channel = redis_channel(settings)

        async def publish_redis(message: str) -> None:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                await redis.publish(channel, message)

        return publish_redis
    if kind == "postgres":
        from sqlalchemy import text

        notify = text("SELECT pg_notify(:channel, :message)")

        async def publish_postgres(message: str) -> None:
            # Through the pool, autocommit: delivered to listeners at once, no connection of its own.
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS), db.autocommit() as conn:
                await conn.execute(notify, {"channel": PG_CHANNEL, "message": message})

        return publish_postgres
    return None


class Watcher:
    def __init__(self, hub: WakeHub) -> None:
        self._hub = hub
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken; False after ``timeout`` (capped by the hub's poll interval)."""
        try:
            async with asyncio.timeout(min(timeout, self._hub.poll_seconds)):
                await self._event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()


class WakeHub:
    def __init__(self, *, remote: bool) -> None:
        self._watchers: dict[str, set[Watcher]] = {}
        self._cancel_handlers: list[CancelHandler] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.remote = remote  # a cross-process channel is configured
        self.connected = not remote  # …and its listener is currently up
        self.poll_override: float | None = None  # tests: take the safety poll out of the picture

    @property
    def poll_seconds(self) -> float:
        if self.poll_override is not None:
            return self.poll_override
        return SAFETY_POLL_SECONDS if self.remote and self.connected else FALLBACK_POLL_SECONDS

    @contextmanager
    def watch(self, run_id: str) -> Iterator[Watcher]:
        watcher = Watcher(self)
        self._watchers.setdefault(run_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            group = self._watchers.get(run_id)
            if group is not None:
                group.discard(watcher)
                if not group:
                    del self._watchers[run_id]

    def on_cancel(self, handler: CancelHandler) -> None:
        """Call ``handler(run_id)`` for every cancel request (a launcher in this process stops its task)."""
        self._cancel_handlers.append(handler)

    def deliver(self, message: str) -> None:
        run_id = message.removeprefix(CANCEL_PREFIX)
        if message.startswith(CANCEL_PREFIX):
            for handler in self._cancel_handlers:
                task = asyncio.get_running_loop().create_task(handler(run_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        for watcher in self._watchers.get(run_id, ()):
            watcher.notify()

    @property
    def watching(self) -> int:
        return sum(len(group) for group in self._watchers.values())


async def _listen_redis(hub: WakeHub, redis: Any, channel: str) -> None:
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            hub.connected = True
            while True:
                message = await pubsub.get_message(timeout=HEALTH_CHECK_SECONDS)
                if message is not None and message.get("type") == "message":
                    data = message["data"]
                    hub.deliver(data.decode() if isinstance(data, bytes) else str(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the channel comes back; subscribers poll meanwhile
            hub.connected = False
            log.warning("wake-up channel (redis) lost: %s; retrying", exc)
            await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            hub.connected = False
            await asyncio.shield(_close_quietly(pubsub))


async def _close_quietly(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # noqa: BLE001
        pass


async def _listen_postgres(hub: WakeHub, dsn: str) -> None:
    import asyncpg

    while True:
        conn: Any = None
        try:
            conn = await asyncpg.connect(dsn)
            await conn.add_listener(PG_CHANNEL, lambda _c, _pid, _ch, payload: hub.deliver(payload))
            hub.connected = True
            while True:
                await asyncio.sleep(HEALTH_CHECK_SECONDS)
                # asyncio.timeout, never wait_for, in this code base: on Python 3.11, wait_for loses a
                # cancellation that arrives as the awaited call completes, and this loop then never ends.
                async with asyncio.timeout(HEALTH_CHECK_SECONDS):
                    await conn.execute("SELECT 1")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            hub.connected = False
            log.warning("wake-up channel (postgres) lost: %s; retrying", exc)
            await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            hub.connected = False
            if conn is not None:
                conn.terminate()


class WakeChannel:
    """A process's hub, its listener task on the deployment's channel, and its publisher."""

    def __init__(self, settings: Settings, db: Database, redis: Any = None) -> None:
        self.kind = channel_kind(settings)
        self.hub = WakeHub(remote=self.kind != "local")
        self._settings = settings
        self._redis = redis
        self._remote = publisher(settings, db, redis)
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.kind == "redis":
            coro = _listen_redis(self.hub, self._redis, redis_channel(self._settings))
        elif self.kind == "postgres":
            coro = _listen_postgres(self.hub, asyncpg_dsn(self._settings.database_url))
        else:
            return
        self._listener = asyncio.create_task(coro, name="wake-listener")

    async def wake(self, message: str) -> None:
        """Publish: wake this process's subscribers now, then everyone else's."""
        self.hub.deliver(message)
        if self._remote is not None:
            await self._remote(message)

    async def close(self) -> None:
        if self._listener is not None:  # again until it ends: a cancel can be swallowed (core.cancel)
            await cancel_until_done(self._listener)
