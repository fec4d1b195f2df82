"""Live deployments for the real-SDK checks: `campaign-chat serve` on PostgreSQL, inline or ARQ.

An ARQ deployment is API processes with ``TASK_BACKEND=arq`` on the shared test Redis, a queue of the
test's own, and a real ``campaign-chat worker`` process that runs the turns (so every event a
subscriber sees was written by another process and announced on the Redis wake-up channel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from tests.conftest import LiveServer, make_key
from tests.support.realtime import start_turn
from tests.support.workers import WorkerPool

from store.db import Database

SECRET = "sdk-test-public-token-secret-0123456789"


@dataclass
class Deployment:
    backend: str  # "inline" or "arq"
    database_url: str
    start_server: Callable[..., LiveServer]
    workers: WorkerPool | None = None
    run_ids: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {"DATABASE_URL": self.database_url, "CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET": SECRET}
        if self.workers is not None:
            env.update(TASK_BACKEND="arq", REDIS_URL=self.workers.redis_url,
                       CAMPAIGN_CHAT_ARQ_QUEUE_NAME=self.workers.queue)
        return {**env, **extra}

    async def api(self, **extra_env: str) -> LiveServer:
        """One more API instance; on ARQ the first call also starts the worker (with the same extra env,
        e.g. the model settings, which matter where the turn runs)."""
        return (await self.apis(1, **extra_env))[0]

    async def apis(self, count: int, **extra_env: str) -> list[LiveServer]:
        """``count`` API instances (and the worker). One after the other: on a small, busy CI machine
        several Python processes importing at once can outlast each one's start-up deadline."""
        if self.workers is not None and not self.workers.started:
            await self.workers.start(**extra_env)
        return [await asyncio.to_thread(self.start_server, **self.env(**extra_env)) for _ in range(count)]

    async def key(self) -> str:
        """An API key, written straight to the deployment's database (what `keys create` does)."""
        db = Database(self.database_url)
        try:
            return (await make_key(db)).key
        finally:
            await db.dispose()

    async def turn(self, client: httpx.AsyncClient, key: str, message: str = "Write an intro email") -> dict[str, Any]:
        turn = await start_turn(client, key, message)
        self.run_ids.append(turn["runId"])
        return turn

    async def close(self) -> None:
        if self.workers is not None:
            await self.workers.cleanup(self.run_ids)
