"""Listen on the deployment's wake-up channel and feed a :class:`WakeHub`; reconnect forever."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from core.settings import Settings
from jobs.wake import PG_CHANNEL, asyncpg_dsn, build_wake, channel_kind, redis_channel
from realtime.hub import WakeHub

log = logging.getLogger("campaign_chat.realtime")

RECONNECT_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 5.0


async def _listen_redis(hub: WakeHub, url: str, channel: str) -> None:
    import redis.asyncio as redis

    while True:
        client: Any = redis.Redis.from_url(url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
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
            await asyncio.shield(_close_redis(pubsub, client))


async def _close_redis(pubsub: Any, client: Any) -> None:
    try:
        await pubsub.aclose()
        await client.aclose()
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
                await asyncio.wait_for(conn.execute("SELECT 1"), HEALTH_CHECK_SECONDS)
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
    """The API process's hub, its listener task and the publisher its inline runs use."""

    def __init__(self, settings: Settings) -> None:
        self.kind = channel_kind(settings)
        self.hub = WakeHub(remote=self.kind != "local")
        self._settings = settings
        self._listener: asyncio.Task[None] | None = None
        self._remote: Any = None
        self._close_remote: Any = None

    async def start(self) -> None:
        self._remote, self._close_remote = await build_wake(self._settings)
        if self.kind == "redis":
            coro = _listen_redis(self.hub, self._settings.redis_url, redis_channel(self._settings))
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
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._close_remote is not None:
            await self._close_remote()
