"""Wake-ups cross processes: a publisher built by ``store.wake.publisher`` (what a worker uses)
wakes a subscriber's hub through Redis pub/sub (ARQ deployments) or PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from collections.abc import AsyncIterator
from typing import Any

from core.settings import Settings
from store.db import Database
from store.redis import redis_client
from store.wake import WakeChannel, cancel_message, channel_kind, publisher


class Process:
    """What one process of a deployment holds: its database engine and (with ARQ) its Redis client."""

    def __init__(self, settings: Settings) -> None:
        self.db = Database(settings.database_url)
        self.redis: Any = redis_client(settings.redis_url) if settings.uses_redis else None

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


@pytest.fixture
async def processes() -> AsyncIterator[list[Process]]:
    made: list[Process] = []
    yield made
    for process in made:
        await process.close()


@pytest.fixture(params=["redis", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "redis":
        return Settings(data_dir=tmp_path, task_backend="arq", redis_url=request.getfixturevalue("redis_url"),
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                        arq_queue_name=f"test-{uuid.uuid4().hex}")
    return Settings(data_dir=tmp_path, database_url=request.getfixturevalue("pg_url"))


async def connected(channel: WakeChannel) -> None:
    for _ in range(500):
        if channel.hub.connected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the listener never connected")


async def test_a_write_in_another_process_wakes_the_subscriber(deployment: Settings, processes: list) -> None:
    api, worker = Process(deployment), Process(deployment)
    processes += [api, worker]
    channel = WakeChannel(deployment, api.db, api.redis)
    await channel.start()
    publish = publisher(deployment, worker.db, worker.redis)
    assert channel.kind == channel_kind(deployment) != "local" and publish is not None
    canceled: list[str] = []

    async def on_cancel(run_id: str) -> None:
        canceled.append(run_id)

    channel.hub.on_cancel(on_cancel)
    try:
        await connected(channel)
        with channel.hub.watch("run_a") as watcher, channel.hub.watch("run_b") as bystander:
            await publish("run_a")
            assert await watcher.wait(30) is True  # woken, not timed out at the safety poll
            await publish(cancel_message("run_a"))
            assert await watcher.wait(30) is True
            assert await bystander.wait(0.05) is False
        await asyncio.sleep(0)
        assert canceled == ["run_a"]
    finally:
        await channel.close()


async def test_without_a_cross_process_channel_subscribers_fall_back_to_a_slow_poll(tmp_path: Path,
                                                                                    processes: list) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    process = Process(settings)
    processes.append(process)
    publish = publisher(settings, process.db, process.redis)
    channel = WakeChannel(settings, process.db)
    await channel.start()
    assert publish is None and channel.kind == "local"
    with channel.hub.watch("run_a") as watcher:
        await channel.wake("run_a")  # this process's own inline runs still wake it at once
        assert await watcher.wait(30) is True
        assert await watcher.wait(30) is False  # nothing else: it returns at the poll interval to re-read
    await channel.close()
