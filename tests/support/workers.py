"""Real ARQ worker processes for tests: ``python -m cli.main worker`` on a queue of the test's own."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from store.redis import redis_client
from bridge.arq_queue import health_check_key
from tests.conftest import ROOT, base_env


def new_queue() -> str:
    return f"test-{uuid.uuid4().hex}"


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> int:
        """SIGTERM, then wait for the worker to finish or fail its turns and exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"worker ignored SIGTERM:\n{self.logs()}") from None


@dataclass
class WorkerPool:
    """Starts workers for one test and cleans up after it (processes, and only this test's Redis keys)."""

    tmp_path: Path
    redis_url: str
    database_url: str
    queue: str = field(default_factory=new_queue)
    started: list[WorkerProcess] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)  # runs whose ARQ keys cleanup removes

    def env(self, **extra: str) -> dict[str, str]:
        return base_env(self.tmp_path, DATABASE_URL=self.database_url, TASK_BACKEND="arq", REDIS_URL=self.redis_url,
                        CAMPAIGN_CHAT_ARQ_QUEUE_NAME=self.queue, **extra)

    async def start(self, **extra_env: str) -> WorkerProcess:
        env = self.env(**extra_env)
        log_path = self.tmp_path / f"worker-{len(self.started)}.log"
        process = subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], cwd=ROOT, env=env,
                                   stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        worker = WorkerProcess(process=process, log_path=log_path, env=env)
        self.started.append(worker)
        await self.wait_healthy(worker)
        return worker

    async def wait_healthy(self, worker: WorkerProcess, timeout: float = 30) -> None:
        redis = redis_client(self.redis_url)
        try:
            deadline = time.monotonic() + timeout
            while not await redis.exists(health_check_key(self.queue)):
                if worker.process.poll() is not None:
                    raise AssertionError(f"worker exited:\n{worker.logs()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker never reported healthy:\n{worker.logs()}")
                await asyncio.sleep(0.05)
        finally:
            await redis.aclose()

    async def cleanup(self, run_ids: list[str] | None = None) -> None:
        run_ids = [*self.run_ids, *(run_ids or [])]
        for worker in self.started:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
        redis: ArqRedis = redis_client(self.redis_url)
        try:
            keys = [k async for k in redis.scan_iter(match=f"{self.queue}*")]
            for run_id in run_ids:
                keys += [f"arq:{kind}:{run_id}" for kind in ("job", "result", "retry", "in-progress")]
            if keys:
                await redis.delete(*keys)
            await redis.zrem("arq:abort", *run_ids) if run_ids else None
        except (OSError, RedisError):
            pass  # a test's own Redis may already be gone
        finally:
            await redis.aclose()
