"""Dependency probes for readiness (and the Redis client the metrics scrape reads the queue with)."""

from __future__ import annotations

import asyncio
from typing import Any

from core.settings import Settings

PROBE_TIMEOUT_SECONDS = 2.0


def uses_redis(settings: Settings) -> bool:
    """Redis is a dependency when tasks go through ARQ."""
    return settings.task_backend == "arq"


class Probes:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uses_redis = uses_redis(settings)
        self._redis: Any = None

    async def redis_client(self) -> Any:
        if not self.uses_redis:
            return None
        if self._redis is None:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(self.settings.redis_url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
                                         socket_timeout=PROBE_TIMEOUT_SECONDS)
        return self._redis

    async def check(self, db: Any) -> dict[str, str]:
        """``{"database": "ok"|"error: …", "redis": …}``: each dependency in use, pinged with a timeout."""
        checks = {"database": await _probe(db.ping())}
        if self.uses_redis:
            client = await self.redis_client()
            checks["redis"] = await _probe(client.ping())
        return checks

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


async def _probe(awaitable: Any) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await awaitable
    except TimeoutError:
        return "error: timed out"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the type names it
        return f"error: {type(exc).__name__}"
    return "ok"
