"""Realtime latency: from a job's event (the RunReporter's write) to its arrival at the real SDK.

Starts `campaign-chat serve` (inline backend, PostgreSQL), runs TURNS turns and follows each with
the real @trigger.dev/sdk (`subscribeToRun(...).withStreams()`, node-checks/realtime-check.mjs,
MODE=latency). To have the subscriber connected *before* the job writes, run_events is held locked
while the turn starts; the first flush (stamped before the lock was released) is left out, every
later event is measured as  arrival time in Node - run_events.created_at.

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


async def one_turn(client: httpx.AsyncClient, key: str, db: str, base_url: str) -> list[float]:
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
    assert node.stdout is not None
    released = False
    while True:
        line = json.loads(await asyncio.wait_for(node.stdout.readline(), 30))
        if line["kind"] == "run" and not released:
            await tx.rollback()
            released = True
        elif line["kind"] == "chunk":
            chunks.append(line)
        elif line["kind"] in ("ended", "timeout"):
            break
    await node.wait()
    rows = await lock.fetch("SELECT seq, created_at, event FROM run_events WHERE run_id = $1 ORDER BY seq", turn["runId"])
    await lock.close()
    first_flush = rows[0]["created_at"]
    latencies = []
    for row, chunk in zip(rows, chunks, strict=True):
        if row["created_at"] == first_flush:
            continue  # stamped before the lock was released
        latencies.append(chunk["at"] - row["created_at"].timestamp() * 1000)
    return latencies


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


async def bench(turns: int, base_db: str) -> None:
    db = await fresh_database(base_db)
    port = 18000 + os.getpid() % 1000
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_")}
        env.update(DATABASE_URL=db, CAMPAIGN_CHAT_DATA_DIR=tmp, PYTHONPATH=str(ROOT), TASK_BACKEND="inline")
        server = start_server(env, port)
        try:
            key = subprocess.run([sys.executable, "-m", "cli.main", "keys", "create"], cwd=ROOT, env=env, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            base_url = f"http://127.0.0.1:{port}"
            samples: list[float] = []
            raw: list[float] = []
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                for _ in range(turns):
                    samples += await one_turn(client, key, db, base_url)
                    raw += await one_turn_raw(client, key, db)
        finally:
            server.terminate()
            server.wait(timeout=20)
            await drop_database(db)
    print(f"realtime latency, job event write -> real SDK subscriber ({len(samples)} events, {turns} turns)")
    print(f"{'subscriber':<24}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}   polling client waits")
    print(f"{'inline, real SDK':<24}{statistics.median(samples):>10.1f}{pct(samples, 99):>10.1f}{max(samples):>10.1f}   {POLLING_GUIDANCE}")
    print(f"{'inline, bare SSE':<24}{statistics.median(raw):>10.1f}{pct(raw, 99):>10.1f}{max(raw):>10.1f}   (server share, no SDK)")
    print(f"{'arq':<24}{'pending':>10}{'':>10}{'':>10}   (bridge/arq.py is not on this branch yet)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        raise SystemExit("set TEST_DATABASE_URL (eval \"$(bash scripts/services.sh)\") to a PostgreSQL server")
    asyncio.run(bench(args.turns, base))


if __name__ == "__main__":
    main()
