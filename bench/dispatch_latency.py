"""Dispatch hot path: POST /turn (claim + dispatch), the 409 on a busy session, GET polling; and in-process.

    eval "$(bash scripts/services.sh)"
    uv run python bench/dispatch_latency.py [--requests 500] [--concurrency 8] [--profile]

HTTP: one `campaign-chat serve` process (uvicorn) per setup, driven by a bounded closed-loop httpx
client (CONCURRENCY requests in flight, REQUESTS per scenario, after a warm-up):
  * SQLite + inline: the turns really run (offline model) in the API process while it answers;
  * PostgreSQL + arq, no worker: POST /turn is the claim transaction plus the Redis enqueue only.
Every POST /turn goes to a fresh session (a dispatched session stays busy); the 409 scenario posts
to sessions made busy with PATCH task_status; GET polls the sessions.

In-process (no HTTP): SessionService.start_turn called back to back, and for inline a whole turn
(start_turn → the job released the session) with an instant model ("turn overhead excluding the
model") and with the offline model. ``--profile`` prints the top of a cProfile of start_turn.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (  # noqa: E402
    Stack, create_keys, delete_queue_keys, drop_database, fresh_database, percentile, service_env,
)

from bridge.factory import build_bridge, token_signer  # noqa: E402
from bridge.tokens import local_secret  # noqa: E402
from core.events import ReplyDeltaEvent, Reporter  # noqa: E402
from core.payloads import CreateSessionInput, TurnInput  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.usage import Usage  # noqa: E402
from jobs.guard import JobDeps  # noqa: E402
from jobs.llm import ExampleContext, ExampleResult, TurnContext, TurnResult  # noqa: E402
from jobs.llm_factory import build_llm  # noqa: E402
from services.sessions import SessionService  # noqa: E402
from store.db import Database  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.tables import runs  # noqa: E402

SESSIONS = "/api/campaigns/ai-chat-sessions"
MESSAGE = {"message": "We sell payroll software to 50-person firms"}
Row = tuple[str, str, list[float], float, Counter[int | str]]


async def closed_loop(total: int, concurrency: int, call: Callable[[int], Awaitable[int | str]]) -> tuple[list[float], float, Counter[int | str]]:
    """``concurrency`` clients issue ``total`` calls between them, each waiting for its answer."""
    latencies: list[float] = []
    outcomes: Counter[int | str] = Counter()
    numbers = iter(range(total))

    async def client() -> None:
        for i in numbers:
            started = time.perf_counter()
            outcomes[await call(i)] += 1
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began, outcomes


async def http_setup(label: str, url: str, key: str, n: int, concurrency: int, warmup: int) -> list[Row]:
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=30) as http:

        async def create(_: int) -> int:
            body = {"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4())}
            response = await http.post(SESSIONS + "/", json=body)
            if response.status_code == 201:
                ids.append(response.json()["session"]["id"])
            return response.status_code

        ids: list[str] = []
        await closed_loop(warmup, concurrency, create)
        rows: list[Row] = [(label, "POST create → 201", *await closed_loop(n, concurrency, create))]
        fresh = list(ids)

        async def turn(i: int) -> int:
            return (await http.post(f"{SESSIONS}/{fresh[i]}/turn", json=MESSAGE)).status_code

        await closed_loop(warmup, concurrency, turn)  # warm-up on the first sessions
        fresh = fresh[warmup:]
        rows.append((label, "POST /turn → 202 (claim+dispatch)", *await closed_loop(min(n, len(fresh)), concurrency, turn)))

        busy = ids[-concurrency:]
        for sid in busy:  # a manual claim: the session stays busy whatever the backend does
            await http.patch(f"{SESSIONS}/{sid}", json={"task_status": "chat_processing"})

        async def refused(i: int) -> int:
            return (await http.post(f"{SESSIONS}/{busy[i % len(busy)]}/turn", json=MESSAGE)).status_code

        rows.append((label, "POST /turn busy → 409", *await closed_loop(n, concurrency, refused)))

        async def poll(i: int) -> int:
            return (await http.get(f"{SESSIONS}/{ids[i % len(ids)]}")).status_code

        await closed_loop(warmup, concurrency, poll)
        rows.append((label, "GET session → 200", *await closed_loop(n, concurrency, poll)))
    return rows


class InstantModel:
    """Answers at once: what a turn costs around the model."""

    name = "instant"

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        await reporter.emit(ReplyDeltaEvent(text="ok"))
        return TurnResult(reply=f"ok: {ctx.message}", usage=Usage(input_tokens=5, output_tokens=2, requests=1))

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        return ExampleResult(subject="s", body="b")


async def in_process(label: str, settings: Settings, n: int, *, model: str, whole_turn: bool,
                     profile: bool) -> tuple[Row, str]:
    db = Database(settings.database_url)
    await upgrade(db)
    llm = InstantModel() if model == "instant" else build_llm(settings)
    signer = token_signer(settings, local_secret(settings.public_token_secret, settings.data_dir))
    redis = None
    if settings.uses_redis:
        from store.redis import redis_client

        redis = redis_client(settings.redis_url)
    bridge = build_bridge(settings, deps=JobDeps(db=db, settings=settings, llm=llm), signer=signer, redis=redis)
    await bridge.start()
    service = SessionService(db, bridge, settings, signer)
    user = str(uuid.uuid4())
    ids = [(await service.create(user, CreateSessionInput(campaign_id=str(uuid.uuid4()), node_id=str(uuid.uuid4())))).id
           for _ in range(n + 20)]
    body = TurnInput(message=MESSAGE["message"])

    async def one(i: int) -> str:
        await service.start_turn(user, ids[i], body)
        while whole_turn and bridge.running:  # type: ignore[attr-defined]
            await asyncio.sleep(0.0005)
        return "ok"

    await closed_loop(20, 1, lambda i: one(n + i))  # warm-up
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    latencies, wall, outcomes = await closed_loop(n, 1, one)
    if profiler:
        profiler.disable()
    while getattr(bridge, "running", 0):
        await asyncio.sleep(0.01)
    await bridge.close()
    if redis is not None:
        await redis.aclose()
    await db.dispose()
    what = f"turn → idle ({model} model)" if whole_turn else "start_turn"
    return (label, f"in-process {what}", latencies, wall, outcomes), _top(profiler) if profiler else ""


async def _run_ids(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.read() as conn:
            return [r.id for r in await conn.execute(sa.select(runs.c.id))]
    finally:
        await db.dispose()


def _top(profiler: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def print_table(rows: list[Row]) -> None:
    print(f"{'setup':<22} {'scenario':<44} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}  outcomes")
    for setup, scenario, lat, wall, outcomes in rows:
        print(f"{setup:<22} {scenario:<44} {percentile(lat, 50):>8.2f} {percentile(lat, 99):>8.2f} "
              f"{len(lat) / wall:>8.0f}  {dict(outcomes)}")


async def main(args: argparse.Namespace) -> None:
    base_db, redis_url = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    if not base_db or not redis_url:
        raise SystemExit('TEST_DATABASE_URL and TEST_REDIS_URL are needed: eval "$(bash scripts/services.sh)"')
    tmp = Path(tempfile.mkdtemp(prefix="campaign-chat-dispatch-"))
    rows: list[Row] = []
    profiles: list[tuple[str, str]] = []
    pg = await fresh_database(base_db, "cc_dispatch")
    queue = f"dispatch-{uuid.uuid4().hex}"
    sqlite = f"sqlite+aiosqlite:///{tmp / 'http.db'}"
    try:
        for label, env in (
            ("SQLite + inline", {"DATABASE_URL": sqlite, "TASK_BACKEND": "inline"}),
            ("PostgreSQL + arq", {"DATABASE_URL": pg, "TASK_BACKEND": "arq", "REDIS_URL": redis_url,
                                  "CAMPAIGN_CHAT_ARQ_QUEUE_NAME": queue}),
        ):
            db = Database(env["DATABASE_URL"])
            await upgrade(db)
            await db.dispose()
            key = (await create_keys(env["DATABASE_URL"], 1))[0]
            stack = Stack(tmp=tmp, env=service_env(tmp, **env))
            try:
                url = await asyncio.to_thread(stack.start_api)
                rows += await http_setup(label, url, key, args.requests, args.concurrency, args.warmup)
            finally:
                stack.stop()
        secret = "bench-" + uuid.uuid4().hex
        cases = [
            ("SQLite + inline", f"sqlite+aiosqlite:///{tmp / 'inproc.db'}", "inline", "instant", False),
            ("SQLite + inline", f"sqlite+aiosqlite:///{tmp / 'inproc.db'}", "inline", "instant", True),
            ("SQLite + inline", f"sqlite+aiosqlite:///{tmp / 'inproc.db'}", "inline", "offline", True),
            ("PostgreSQL + inline", pg, "inline", "instant", True),
            ("PostgreSQL + arq", pg, "arq", "instant", False),
        ]
        for label, url, backend, model, whole in cases:
            settings = Settings(data_dir=tmp / "data", database_url=url, task_backend=backend, redis_url=redis_url,
                                arq_queue_name=queue, public_token_secret=secret, log_level="WARNING")
            row, prof = await in_process(label, settings, args.requests, model=model, whole_turn=whole,
                                         profile=args.profile and not whole)
            rows.append(row)
            if prof:
                profiles.append((f"{label} start_turn", prof))
    finally:
        await delete_queue_keys(redis_url, queue, await _run_ids(pg))
        await drop_database(pg)
    print(f"dispatch latency: {args.requests} requests per scenario, {args.concurrency} in flight (HTTP), "
          f"1 in flight (in-process), {os.cpu_count()} CPUs")
    print_table(rows)
    for name, text in profiles:
        print(f"\n--- cProfile: {name} (cumulative) ---\n{text}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP requests in flight")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process start_turn loops")
    asyncio.run(main(parser.parse_args()))
