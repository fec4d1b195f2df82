"""Readiness probes against real dependencies: Redis counts when tasks go through ARQ."""

from __future__ import annotations

from dataclasses import replace

from core.settings import Settings
from ops.probes import Probes
from store.db import Database
from tests.conftest import free_port


async def test_redis_is_not_a_dependency_of_the_inline_backend(settings: Settings, db: Database) -> None:
    probes = Probes(replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    assert await probes.check(db) == {"database": "ok"}


async def test_with_arq_a_reachable_redis_is_ready(settings: Settings, db: Database, redis_url: str) -> None:
    probes = Probes(replace(settings, task_backend="arq", redis_url=redis_url))
    try:
        assert await probes.check(db) == {"database": "ok", "redis": "ok"}
    finally:
        await probes.close()


async def test_with_arq_a_stopped_redis_is_named(settings: Settings, db: Database) -> None:
    nothing_listening = f"redis://127.0.0.1:{free_port()}/0"
    probes = Probes(replace(settings, task_backend="arq", redis_url=nothing_listening))
    try:
        checks = await probes.check(db)
    finally:
        await probes.close()
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("error:")
