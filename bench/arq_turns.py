"""Measure ARQ turns end to end: dispatch from the service → run in worker processes → session idle.

    eval "$(bash scripts/services.sh)"
    uv run python bench/arq_turns.py --workers 2 --turns 200

Uses a throwaway PostgreSQL database and its own Redis queue (both removed afterwards), the offline
model, and real `campaign-chat worker` processes. Prints latency percentiles and throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.arq_queue import ArqBridge
from store.redis import redis_client  # noqa: E402
from core.payloads import CreateSessionInput, TurnInput  # noqa: E402
from core.settings import Settings  # noqa: E402
from bridge.arq_queue import health_check_key  # noqa: E402
from services.sessions import SessionService  # noqa: E402
from store.db import Database  # noqa: E402
from store.migrate import upgrade  # noqa: E402


async def main(workers: int, turns: int, concurrency: int) -> None:
    base = make_url(os.environ["TEST_DATABASE_URL"])
    redis_url = os.environ["TEST_REDIS_URL"]
    name = f"cc_bench_{secrets.token_hex(4)}"
    admin = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = base.set(database=name).render_as_string(hide_password=False)
    queue = f"bench-{uuid.uuid4().hex}"
    settings = Settings(database_url=url, task_backend="arq", redis_url=redis_url, arq_queue_name=queue,
                        public_token_secret="bench-secret", worker_concurrency=concurrency)
    db = Database(url)
    await upgrade(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_")}
    env.update(DATABASE_URL=url, TASK_BACKEND="arq", REDIS_URL=redis_url, CAMPAIGN_CHAT_ARQ_QUEUE_NAME=queue,
               CAMPAIGN_CHAT_WORKER_CONCURRENCY=str(concurrency), CAMPAIGN_CHAT_LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], cwd=ROOT, env=env) for _ in range(workers)]
    redis = redis_client(redis_url)
    bridge = ArqBridge(redis_url=redis_url, queue_name=queue, token_secret="bench-secret", env_id="env", token_ttl=600)
    run_ids: list[str] = []
    try:
        while not await redis.exists(health_check_key(queue)):
            await asyncio.sleep(0.05)
        service = SessionService(db, bridge, settings)
        user = str(uuid.uuid4())
        sessions = [await service.create(user, CreateSessionInput(campaign_id=str(uuid.uuid4()), node_id=str(uuid.uuid4())))
                    for _ in range(turns)]
        latencies: list[float] = []

        async def one(session_id: str) -> None:
            started = time.perf_counter()
            dispatched = await service.start_turn(user, session_id, TurnInput(message="We sell payroll software"))
            run_ids.append(dispatched.run_id)
            while (await service.get(user, session_id))["task_status"] is not None:
                await asyncio.sleep(0.01)
            latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(one(s["id"]) for s in sessions))
        wall = time.perf_counter() - began
        q = statistics.quantiles(latencies, n=100)
        print(f"workers={workers} concurrency={concurrency} turns={turns} database=postgresql")
        print(f"throughput {turns / wall:.1f} turns/s (wall {wall:.2f}s)")
        print(f"latency dispatch→idle p50 {q[49] * 1000:.0f} ms  p95 {q[94] * 1000:.0f} ms  max {max(latencies) * 1000:.0f} ms")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        keys = [k async for k in redis.scan_iter(match=f"{queue}*")]
        keys += [f"arq:{kind}:{rid}" for rid in run_ids for kind in ("job", "result", "retry", "in-progress")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await bridge.close()
        await db.dispose()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10, help="turns per worker at once")
    args = parser.parse_args()
    asyncio.run(main(args.workers, args.turns, args.concurrency))
