#!/usr/bin/env python3
"""Server CPU per `GET` poll of a session, for ours and the bare floor alike (issue 12, target 4).

    # start the servers as in ../shared/bench-peers/README.md, then, for each:
    python bench/poll_cost.py --url http://127.0.0.1:8150 --api-key $KEY --pid <server pid> [--pid …]

Creates one session through the API, then keeps --concurrency GETs of it in flight for --seconds and
prints requests/s, client-side p50/p99 and the server's CPU per GET (utime + stime of every --pid from
/proc, before and after). With --turns N it first runs N turns on the session, so the GETs carry a
grown transcript (as in turn_load.py's sessions scenario). Stdlib + httpx (the bench-peers venv's
python has both). 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import httpx

BASE = "/api/campaigns/ai-chat-sessions"
CAMPAIGN = "11111111-1111-4111-8111-111111111111"
NODE = "22222222-2222-4222-8222-222222222222"


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (after the state field)
    return total / tick


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--pid", type=int, action="append", required=True, help="a server process (repeatable)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--turns", type=int, default=0,
                        help="first run this many turns on the session (a grown transcript: a bigger GET)")
    args = parser.parse_args()
    assert args.url.startswith("http://127.0.0.1"), "loopback only"

    headers = {"Authorization": f"Bearer {args.api_key}"}
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=10) as client:
        created = await client.post(BASE, json={"campaign_id": CAMPAIGN, "node_id": NODE})
        created.raise_for_status()
        path = f"{BASE}/{created.json()['session']['id'] if 'session' in created.json() else created.json()['id']}"
        for turn in range(args.turns):
            (await client.post(f"{path}/turn", json={"message": f"turn {turn}: hello"})).raise_for_status()
            for _ in range(2000):  # bounded: 2000 x 10 ms
                await asyncio.sleep(0.01)
                if (await client.get(path)).json()["session"].get("task_status") is None:
                    break
        for _ in range(200):  # warm-up: caches, connections
            (await client.get(path)).raise_for_status()
        size = len((await client.get(path)).content)
        latencies: list[float] = []
        deadline = time.monotonic() + args.seconds

        async def poller() -> None:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                (await client.get(path)).raise_for_status()
                latencies.append(time.perf_counter() - began)

        cpu_before, wall_before = cpu_seconds(args.pid), time.monotonic()
        await asyncio.gather(*(poller() for _ in range(args.concurrency)))
        cpu, wall = cpu_seconds(args.pid) - cpu_before, time.monotonic() - wall_before
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{args.url}: {len(latencies) / wall:.0f} GET/s, p50 {statistics.median(latencies) * 1000:.2f} ms, "
          f"p99 {p99 * 1000:.2f} ms, server CPU per GET {cpu * 1000 / len(latencies):.3f} ms ({len(latencies)} GETs "
          f"of {size} bytes)")


if __name__ == "__main__":
    asyncio.run(main())
