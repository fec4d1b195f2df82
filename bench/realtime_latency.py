"""Realtime latency: from a job's event (the RunReporter's write) to its arrival at the real SDK.

Runs TURNS turns on each backend and follows each with the real @trigger.dev/sdk
(`subscribeToRun(...).withStreams()`, node-checks/realtime-check.mjs, MODE=latency):

* inline: `campaign-chat serve` (PostgreSQL) executes the turn in its own process;
* arq: `campaign-chat serve` with TASK_BACKEND=arq and a separate `campaign-chat worker` process
  executing the turn; the worker's writes reach the API through the Redis wake-up channel.

To have the subscriber connected *before* the job writes, run_events is held locked while the turn
starts; the first flush (stamped before the lock was released) is left out, every later event is
measured as  arrival time in Node - run_events.created_at  (one machine, one clock), and the final
status as  arrival of the finished run in Node - runs.completed_at.

    eval "$(bash scripts/services.sh)"; bash scripts/node-setup.sh
    uv run python bench/realtime_latency.py [--turns 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
POLLING_GUIDANCE = "2-5 s (a client polling GET /sessions/{id} every 2-5 s, per the published guidance)"


def dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def fresh_database(base_url: str) -> str:
    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn(base_url.rsplit("/", 1)[0] + "/postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return base_url.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str) -> None:
    admin = await asyncpg.connect(dsn(url.rsplit("/", 1)[0] + "/postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    subprocess.run([sys.executable, "-m", "cli.main", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


async def one_turn(client: httpx.AsyncClient, key: str, db: str, base_url: str) -> tuple[list[float], float]:
    """(each event's latency in ms, the final status's latency in ms) for one turn."""
    headers = {"Authorization": f"Bearer {key}"}
    session = (await client.post("/api/campaigns/ai-chat-sessions", headers=headers,
                                 json={"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4())})).json()["session"]
    lock = await asyncpg.connect(dsn(db))
    tx = lock.transaction()
    await tx.start()
    await lock.execute("LOCK TABLE run_events IN EXCLUSIVE MODE")
    turn = (await client.post(f"/api/campaigns/ai-chat-sessions/{session['id']}/turn", headers=headers,
                              json={"message": "Write an intro email for our analytics tool"})).json()
    env = {**os.environ, "BASE_URL": base_url, "RUN_ID": turn["runId"], "PUBLIC_TOKEN": turn["publicAccessToken"],
           "MODE": "latency"}
    node = await asyncio.create_subprocess_exec("node", "realtime-check.mjs", cwd=ROOT / "node-checks", env=env,
                                                stdout=asyncio.subprocess.PIPE)
    chunks: list[dict] = []
    finished_at: float | None = None
    assert node.stdout is not None
    released = False
    while True:
        line = json.loads(await asyncio.wait_for(node.stdout.readline(), 30))
        if line["kind"] == "run" and not released:
            await tx.rollback()
            released = True
        if line["kind"] == "run" and line["finishedAt"] and finished_at is None:
            finished_at = line["at"]
        elif line["kind"] == "chunk":
            chunks.append(line)
        elif line["kind"] in ("ended", "timeout"):
            break
    await node.wait()
    rows = await lock.fetch("SELECT seq, created_at, event FROM run_events WHERE run_id = $1 ORDER BY seq", turn["runId"])
    completed_at = await lock.fetchval("SELECT completed_at FROM runs WHERE id = $1", turn["runId"])
    await lock.close()
    if finished_at is None:
        raise SystemExit(f"the SDK never saw run {turn['runId']} finish")
    first_flush = rows[0]["created_at"]
    latencies = []
    for row, chunk in zip(rows, chunks, strict=True):
        if row["created_at"] == first_flush:
            continue  # stamped before the lock was released
        latencies.append(chunk["at"] - row["created_at"].timestamp() * 1000)
    return latencies, finished_at - completed_at.timestamp() * 1000


async def one_turn_raw(client: httpx.AsyncClient, key: str, db: str) -> list[float]:
    """The same, read with a bare SSE client: the server's share of the latency, without the SDK's."""
    headers = {"Authorization": f"Bearer {key}"}
    session = (await client.post("/api/campaigns/ai-chat-sessions", headers=headers,
                                 json={"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4())})).json()["session"]
    lock = await asyncpg.connect(dsn(db))
    tx = lock.transaction()
    await tx.start()
    await lock.execute("LOCK TABLE run_events IN EXCLUSIVE MODE")
    turn = (await client.post(f"/api/campaigns/ai-chat-sessions/{session['id']}/turn", headers=headers,
                              json={"message": "Write an intro email for our analytics tool"})).json()
    arrivals: list[tuple[int, float]] = []
    async with client.stream("GET", f"/realtime/v1/streams/{turn['runId']}/chat",
                             headers={"Authorization": f"Bearer {turn['publicAccessToken']}"}) as response:
        async for line in response.aiter_lines():
            if line.startswith(": ping") and tx is not None:
                await tx.rollback()
                tx = None
            elif line.startswith("id: "):
                arrivals.append((int(line.split("-")[-1]), time.time() * 1000))
    rows = await lock.fetch("SELECT seq, created_at FROM run_events WHERE run_id = $1 ORDER BY seq", turn["runId"])
    await lock.close()
    first_flush = rows[0]["created_at"]
    return [at - row["created_at"].timestamp() * 1000 for (_, at), row in zip(arrivals, rows, strict=True)
            if row["created_at"] != first_flush]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def start_worker(env: dict[str, str], redis_url: str, queue: str) -> subprocess.Popen[bytes]:
    import redis

    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(redis_url)
    try:
        for _ in range(600):
            if client.exists(f"{queue}:health-check"):
                return proc
            if proc.poll() is not None:
                raise SystemExit("worker exited")
            time.sleep(0.05)
    finally:
        client.close()
    proc.kill()
    raise SystemExit("worker did not report healthy")


def drop_queue_keys(redis_url: str, queue: str, run_ids: list[str]) -> None:
    """Only this run's keys: the Redis is shared (never FLUSHDB)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{queue}*"))
        keys += [f"arq:{kind}:{run_id}" for run_id in run_ids for kind in ("job", "result", "retry", "in-progress")]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def measure(backend: str, turns: int, base_db: str, redis_url: str | None) -> dict[str, list[float]]:
    db = await fresh_database(base_db)
    port = 18000 + os.getpid() % 1000 + (1 if backend == "arq" else 0)
    queue = f"bench-{uuid.uuid4().hex}"
    procs: list[subprocess.Popen[bytes]] = []
    run_ids: list[str] = []
    out: dict[str, list[float]] = {"sdk": [], "final": [], "raw": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_")}
        env.update(DATABASE_URL=db, CAMPAIGN_CHAT_DATA_DIR=tmp, PYTHONPATH=str(ROOT), TASK_BACKEND=backend,
                   CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET="bench-public-token-secret-" + uuid.uuid4().hex)
        env.pop("LLM_MODEL", None)
        if backend == "arq":
            env.update(REDIS_URL=redis_url or "", CAMPAIGN_CHAT_ARQ_QUEUE_NAME=queue)
        try:
            procs.append(start_server(env, port))
            if backend == "arq":
                procs.append(start_worker(env, redis_url or "", queue))
            key = subprocess.run([sys.executable, "-m", "cli.main", "keys", "create"], cwd=ROOT, env=env, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            base_url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                for _ in range(turns):
                    events, final = await one_turn(client, key, db, base_url)
                    out["sdk"] += events
                    out["final"].append(final)
                    out["raw"] += await one_turn_raw(client, key, db)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
            if backend == "arq":
                conn = await asyncpg.connect(dsn(db))
                run_ids = [r["id"] for r in await conn.fetch("SELECT id FROM runs")]
                await conn.close()
                drop_queue_keys(redis_url or "", queue, run_ids)
            await drop_database(db)
    return out


def row(label: str, values: list[float], note: str) -> str:
    return f"{label:<34}{statistics.median(values):>9.1f}{pct(values, 99):>9.1f}{max(values):>9.1f}{len(values):>6}   {note}"


async def bench(turns: int, base_db: str, redis_url: str | None) -> None:
    results = {"inline": await measure("inline", turns, base_db, None)}
    if redis_url:
        results["arq"] = await measure("arq", turns, base_db, redis_url)
    print(f"realtime latency, job write -> real @trigger.dev/sdk subscriber ({turns} turns per backend)")
    print(f"{'':<34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'n':>6}")
    notes = {"inline": "the API process runs the turn", "arq": "a worker process runs the turn (Redis wake-up)"}
    for backend, r in results.items():
        print(row(f"{backend}: chat event, real SDK", r["sdk"], notes[backend]))
        print(row(f"{backend}: final status, real SDK", r["final"], "runs.completed_at -> finished run in subscribeToRun"))
        print(row(f"{backend}: chat event, bare SSE", r["raw"], "the server's share, no SDK"))
    if not redis_url:
        print("arq: not measured (set TEST_REDIS_URL or REDIS_URL: eval \"$(bash scripts/services.sh)\")")
    print(f"{'polling client (published guidance)':<34}{'2000-5000':>18}{'':>15}   {POLLING_GUIDANCE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        raise SystemExit("set TEST_DATABASE_URL (eval \"$(bash scripts/services.sh)\") to a PostgreSQL server")
    asyncio.run(bench(args.turns, base, os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")))


if __name__ == "__main__":
    main()
