"""Soak: many sessions × turns against API + ARQ workers + PostgreSQL + Redis, then check the invariants.

    eval "$(bash scripts/services.sh)"; bash scripts/node-setup.sh
    uv run python bench/soak.py                       # full form: 200 sessions × 5 turns, a few minutes
    uv run python bench/soak.py --sessions 20 --turns 3 --ramp 2 --think 0 0.5 --poll 0.5 1   # short form

Starts `campaign-chat serve` (TASK_BACKEND=arq, default offline model) and WORKERS `campaign-chat
worker` processes on a fresh PostgreSQL database and a unique Redis queue, all on 127.0.0.1. Sessions
start spread over RAMP seconds; their users chat (bench/soak_clients.py: patient, double-submitting
and eager-retrying clients, a polling second tab, SSE / shape / real-SDK subscribers). Afterwards
it reads the database and checks (bench/soak_checks.py): no session left busy, every run terminal
and succeeded, one run per accepted turn, each transcript = the accepted turns (user, assistant,
strictly alternating), no responses but the expected ones (409 only for double/eager submits),
every realtime subscriber saw its run end. Prints throughput, dispatch latency (POST /turn round
trip), turn completion time and the API's peak RSS. Exits 1 when an invariant fails, 2 when the
soak overran --max-seconds. ``--json PATH`` also writes the report as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from soak_checks import check, completion_ms, load_state, status_histogram  # noqa: E402
from soak_clients import Clients, Plan, Record  # noqa: E402
from stack import (  # noqa: E402
    ROOT, RssSampler, Stack, create_keys, delete_queue_keys, drop_database, fresh_database, percentile, service_env,
)


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--turns", type=int, default=5, help="turns per session")
    p.add_argument("--workers", type=int, default=2, help="ARQ worker processes")
    p.add_argument("--worker-concurrency", type=int, default=10, help="turns per worker at once")
    p.add_argument("--users", type=int, default=0, help="API keys (users) the sessions are spread over; 0: one per 4 sessions")
    p.add_argument("--ramp", type=float, default=60.0, help="seconds over which sessions start")
    p.add_argument("--think", type=float, nargs=2, default=(5.0, 20.0), metavar=("MIN", "MAX"),
                   help="user think time between turns, seconds")
    p.add_argument("--poll", type=float, nargs=2, default=(2.0, 5.0), metavar=("MIN", "MAX"),
                   help="GET /sessions/{id} interval, seconds (published guidance: 2-5 s)")
    p.add_argument("--sdk-subscribers", type=int, default=5, help="turns followed by the real Node SDK (0: none)")
    p.add_argument("--max-seconds", type=float, default=900.0, help="hard bound on the load phase")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    random.seed(args.seed)
    base_db, redis_url = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    if not base_db or not redis_url:
        print('TEST_DATABASE_URL and TEST_REDIS_URL are needed: eval "$(bash scripts/services.sh)"', file=sys.stderr)
        return 3
    queue = f"soak-{uuid.uuid4().hex}"
    database_url = await fresh_database(base_db, "cc_soak")
    tmp = Path(tempfile.mkdtemp(prefix="campaign-chat-soak-"))
    (tmp / "metrics").mkdir()  # shared by the API and the workers: /metrics then counts all of them
    env = service_env(tmp, PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"), DATABASE_URL=database_url, TASK_BACKEND="arq", REDIS_URL=redis_url,
                      CAMPAIGN_CHAT_ARQ_QUEUE_NAME=queue, CAMPAIGN_CHAT_WORKER_CONCURRENCY=str(args.worker_concurrency))
    stack = Stack(tmp=tmp, env=env)
    record = Record()
    try:
        keys = await create_keys(database_url, args.users or max(1, -(-args.sessions // 4)))
        url = await asyncio.to_thread(stack.start_api)
        await stack.start_workers(args.workers)
        node_dir = ROOT / "node-checks"
        has_sdk = args.sdk_subscribers > 0 and (node_dir / "node_modules" / "@trigger.dev" / "sdk").is_dir()
        if args.sdk_subscribers and not has_sdk:
            print("node-checks is not installed (bash scripts/node-setup.sh): no SDK subscribers", file=sys.stderr)
        plan = Plan(turns=args.turns, poll=tuple(args.poll), think=tuple(args.think),
                    sdk_subscribers=args.sdk_subscribers if has_sdk else 0)
        clients = Clients(url, plan, record, node_dir=node_dir if has_sdk else None)
        assert stack.api is not None
        api_rss = RssSampler(stack.api.pid)
        worker_rss = [RssSampler(w.pid) for w in stack.workers]
        for sampler in (api_rss, *worker_rss):
            sampler.start()
        overran = False
        began = time.perf_counter()
        try:
            load = asyncio.gather(*(_delayed(i * args.ramp / max(1, args.sessions), clients.session(i, keys[i % len(keys)]))
                                    for i in range(args.sessions)))
            try:
                await asyncio.wait_for(load, args.max_seconds)
                await clients.drain_subscribers(timeout=max(5.0, args.max_seconds - (time.perf_counter() - began)))
            except TimeoutError:
                overran = True
            wall = time.perf_counter() - began
        finally:
            for sampler in (api_rss, *worker_rss):
                await sampler.stop()
            server_side = await _server_latency(clients)
            statements = await _statements(clients)
            await clients.aclose()
        session_rows, run_rows = await load_state(database_url)
        violations = check(record, session_rows, run_rows, args.turns)
        if overran:
            violations["finished within --max-seconds"] = [f"the load phase overran {args.max_seconds}s"]
        report = _report(args, record, run_rows, violations, wall, api_rss, worker_rss)
        report["server_side_ms"] = server_side
        report["db_statements_per_turn"] = {process: round(n / max(1, len(record.accepted)), 1)
                                            for process, n in statements.items()}
        _print(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        if overran:
            return 2
        return 1 if any(violations.values()) else 0
    except Exception:
        print(f"--- api log ---\n{stack.tail('api')}", file=sys.stderr)
        raise
    finally:
        stack.stop()
        await delete_queue_keys(redis_url, queue, [a.run_id for a in record.accepted])
        await drop_database(database_url)


async def _server_latency(clients: Clients) -> dict[str, dict[str, float]]:
    """The API's own request-duration histogram (/metrics): time spent inside the app, no client or
    socket queueing. Percentiles are the upper bound of the bucket they fall in."""
    try:
        text = (await clients.http.get("/metrics")).text
    except Exception:  # noqa: BLE001 - an optional figure; the soak's verdict does not depend on it
        return {}
    wanted = {("POST", "/turn"): "POST /turn", ("GET", "}"): "GET session"}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for line in text.splitlines():
        if not line.startswith("campaign_chat_http_request_duration_seconds_bucket{"):
            continue
        labels = dict(part.split("=", 1) for part in line[line.index("{") + 1:line.rindex("}")].split(","))
        route, method = labels.get("route", "").strip('"'), labels.get("method", "").strip('"')
        for (m, suffix), name in wanted.items():
            if method == m and route.endswith(suffix):
                le = labels["le"].strip('"')
                buckets.setdefault(name, []).append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    out = {}
    for name, rows in buckets.items():
        rows.sort()
        total = rows[-1][1]
        bound = lambda q: next((le for le, n in rows if n >= q * total), float("inf"))  # noqa: E731
        out[name] = {"p50_le": bound(0.5) * 1000, "p99_le": bound(0.99) * 1000, "n": total}
    return out


async def _statements(clients: Clients) -> dict[str, float]:
    """SQL statements sent over the run, by process kind (``campaign_chat_db_statements_total``): the
    workers' share is what running the turns costs, the API's includes every poll and subscriber."""
    try:
        text = (await clients.http.get("/metrics")).text
    except Exception:  # noqa: BLE001 - an optional figure
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("campaign_chat_db_statements_total{"):
            process = line[line.index('process="') + 9:].split('"', 1)[0]
            out[process] = out.get(process, 0.0) + float(line.split()[-1])
    return out


async def _delayed(delay: float, work: object) -> None:
    await asyncio.sleep(delay)
    await work  # type: ignore[misc]


def _ms(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 1), "p99": round(percentile(values, 99), 1),
            "max": round(max(values, default=0.0), 1), "n": len(values)}


def _per_turn(cpu_seconds: float, rec: Record) -> float:
    return round(cpu_seconds * 1000 / max(1, len(rec.accepted)), 1)


def _report(args: argparse.Namespace, rec: Record, run_rows: list[dict], violations: dict[str, list[str]], wall: float,
            api_rss: RssSampler, worker_rss: list[RssSampler]) -> dict:
    requests = sum(rec.responses.values())
    return {
        "config": {"sessions": args.sessions, "turns": args.turns, "workers": args.workers,
                   "worker_concurrency": args.worker_concurrency, "ramp_s": args.ramp, "think_s": list(args.think),
                   "poll_s": list(args.poll), "cpus": os.cpu_count()},
        "wall_s": round(wall, 1),
        "accepted_turns": len(rec.accepted),
        "turns_per_s": round(len(rec.accepted) / wall, 2) if wall else 0.0,
        "requests": requests,
        "requests_per_s": round(requests / wall, 1) if wall else 0.0,
        "responses": dict(sorted(rec.responses.items())),
        "double_submits": rec.double_submits,
        "double_submits_both_accepted_in_turn": rec.double_accepted,
        "dispatch_ms": _ms(rec.dispatch_ms),
        "busy_409_ms": _ms(rec.busy_ms),
        "turn_completion_ms": _ms(completion_ms(run_rows)),
        "observed_done_ms": _ms(rec.observed_done_ms),
        "runs": status_histogram(run_rows),
        "realtime": dict(sorted(rec.realtime.items())),
        "api_rss_mib": {"start": round(api_rss.first / 1024, 1), "peak": round(api_rss.peak / 1024, 1),
                        "end": round(api_rss.last / 1024, 1)},
        "worker_peak_rss_mib": [round(w.peak / 1024, 1) for w in worker_rss],
        "cpu_ms_per_turn": {"api": _per_turn(api_rss.cpu_seconds, rec),
                            "workers": _per_turn(sum(w.cpu_seconds for w in worker_rss), rec)},
        "invariants": {name: {"ok": not found, "violations": found[:20], "count": len(found)}
                       for name, found in violations.items()},
    }


def _print(r: dict) -> None:
    c = r["config"]
    print(f"soak: {c['sessions']} sessions × {c['turns']} turns, {c['workers']} ARQ workers × {c['worker_concurrency']}, "
          f"PostgreSQL + Redis, offline model, {c['cpus']} CPUs")
    print(f"wall {r['wall_s']} s   accepted turns {r['accepted_turns']}   throughput {r['turns_per_s']} turns/s   "
          f"requests {r['requests']} ({r['requests_per_s']}/s)")
    for label, key in (("dispatch (POST /turn → 202)", "dispatch_ms"), ("busy (POST /turn → 409)", "busy_409_ms"),
                       ("turn completion (claim → run completed, server)", "turn_completion_ms"),
                       ("POST sent → SSE done (client)", "observed_done_ms")):
        v = r[key]
        print(f"{label:<50} p50 {v['p50']:>8.1f} ms  p99 {v['p99']:>8.1f} ms  max {v['max']:>8.1f} ms  n={v['n']}")
    for name, v in r.get("server_side_ms", {}).items():
        print(f"{'inside the API: ' + name:<50} p50 ≤ {v['p50_le']:>6.0f} ms  p99 ≤ {v['p99_le']:>6.0f} ms  n={v['n']:.0f}")
    rss = r["api_rss_mib"]
    print(f"API RSS: start {rss['start']} MiB, peak {rss['peak']} MiB, end {rss['end']} MiB; "
          f"worker peaks {r['worker_peak_rss_mib']} MiB")
    print(f"responses {r['responses']}")
    print(f"runs {r['runs']}   realtime {r['realtime']}   double submits {r['double_submits']} "
          f"(both accepted one after the other: {r['double_submits_both_accepted_in_turn']})")
    cpu = r["cpu_ms_per_turn"]
    print(f"CPU per accepted turn: API {cpu['api']} ms, workers {cpu['workers']} ms")
    statements = r.get("db_statements_per_turn") or {}
    print("SQL statements per accepted turn: " + (", ".join(f"{k} {v}" for k, v in sorted(statements.items()))
                                                  or "not read (/metrics unavailable)")
          + "   (worker: running the turn; api: its dispatch plus every poll and subscriber)")
    failed = False
    for name, result in r["invariants"].items():
        print(f"[{'ok' if result['ok'] else 'FAIL'}] {name}" + ("" if result["ok"] else f" ({result['count']})"))
        for line in result["violations"][:5]:
            print(f"       {line}")
        failed |= not result["ok"]
    print("INVARIANTS FAILED" if failed else "all invariants hold")


if __name__ == "__main__":
    sys.exit(asyncio.run(run(_args(None))))
