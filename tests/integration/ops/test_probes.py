"""Readiness against real dependencies: Redis counts only when tasks go through ARQ."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.settings import Settings
from ops import probes
from store.db import Database
from store.redis import redis_client
from tests.conftest import free_port


async def test_redis_is_not_a_dependency_of_the_inline_backend(api_factory: Any) -> None:
    api = await api_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert api.app.state.container.redis is None
    assert await api.app.state.container.readiness() == {"database": "ok"}


async def test_with_arq_a_reachable_redis_is_ready(db: Database, redis_url: str) -> None:
    redis = redis_client(redis_url)
    try:
        assert await probes.check({"database": db.ping, "redis": redis.ping}) == {"database": "ok", "redis": "ok"}
    finally:
        await redis.aclose()


async def test_with_arq_a_stopped_redis_is_named(settings: Settings, db: Database) -> None:
    redis = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    try:
        checks = await probes.check({"database": db.ping, "redis": redis.ping})
    finally:
        await redis.aclose()
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("error:")
    assert replace(settings, task_backend="arq").uses_redis and not settings.uses_redis
