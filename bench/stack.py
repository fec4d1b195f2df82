"""The real processes a bench drives: a throwaway PostgreSQL database, `campaign-chat serve`, ARQ workers.

Everything lives on loopback; the database is created fresh and dropped afterwards, the Redis queue
name is unique and only that queue's keys (and the runs' ARQ keys) are deleted at the end.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from store.redis import redis_client  # noqa: E402
from core.ids import utcnow  # noqa: E402
from bridge.arq_queue import health_check_key  # noqa: E402
from store import keys  # noqa: E402
from store.db import Database  # noqa: E402
from store.migrate import upgrade  # noqa: E402


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


async def fresh_database(base_url: str, prefix: str = "cc_bench") -> str:
    """Create and migrate an empty PostgreSQL database next to ``base_url``; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(_admin_dsn(base_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    return url


async def drop_database(url: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_keys(database_url: str, count: int) -> list[str]:
    """``count`` API keys, each for its own user (what a deployment's users would hold)."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            return [(await keys.create(conn, user_id=None, label="bench", now=utcnow())).key for _ in range(count)]
    finally:
        await db.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The parent's environment minus any CAMPAIGN_CHAT_*/service settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_")}
    for name in ("DATABASE_URL", "TASK_BACKEND", "REDIS_URL", "LLM_MODEL"):
        env.pop(name, None)
    # The load is many users behind one bench key: the per-key rate limit would measure itself, not the service.
    env.update(CAMPAIGN_CHAT_RATE_LIMIT_PER_MINUTE="0")
    env.update(CAMPAIGN_CHAT_DATA_DIR=str(tmp / "data"), CAMPAIGN_CHAT_LOG_FORMAT="json",
               CAMPAIGN_CHAT_LOG_LEVEL="WARNING", CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET="bench-" + uuid.uuid4().hex,
               PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


@dataclass
class Stack:
    """The started processes; :meth:`stop` ends exactly these."""

    tmp: Path
    env: dict[str, str]
    api: subprocess.Popen[bytes] | None = None
    url: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=self.env,
                                stdout=self.log(name).open("wb"), stderr=subprocess.STDOUT)

    def start_api(self, timeout: float = 30) -> str:
        port = free_port()
        self.api = self._spawn("api", "serve", "--host", "127.0.0.1", "--port", str(port))
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(f"the API exited:\n{self.tail('api')}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the API did not answer /health within {timeout}s:\n{self.tail('api')}")

    async def start_workers(self, count: int, timeout: float = 30) -> None:
        queue = self.env["CAMPAIGN_CHAT_ARQ_QUEUE_NAME"]
        for _ in range(count):
            self.workers.append(self._spawn(f"worker-{len(self.workers)}", "worker"))
        redis = redis_client(self.env["REDIS_URL"])
        try:
            deadline = time.monotonic() + timeout
            while not await redis.exists(health_check_key(queue)):
                for i, proc in enumerate(self.workers):
                    if proc.poll() is not None:
                        raise RuntimeError(f"worker {i} exited:\n{self.tail(f'worker-{i}')}")
                if time.monotonic() > deadline:
                    raise RuntimeError("no worker reported healthy")
                await asyncio.sleep(0.05)
        finally:
            await redis.aclose()

    def stop(self) -> None:
        procs = [p for p in [self.api, *self.workers] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def delete_queue_keys(redis_url: str, queue: str, run_ids: list[str]) -> None:
    """Remove this bench's queue keys and its runs' ARQ keys; nobody else's."""
    redis = redis_client(redis_url)
    try:
        found = [k async for k in redis.scan_iter(match=f"{queue}*")]
        found += [f"arq:{kind}:{rid}" for rid in run_ids for kind in ("job", "result", "retry", "in-progress")]
        for start in range(0, len(found), 500):
            await redis.delete(*found[start:start + 500])
        if run_ids:
            await redis.zrem("arq:abort", *run_ids)
    finally:
        await redis.aclose()


def rss_kib(pid: int) -> int | None:
    """Resident set size of a live process (Linux /proc), in KiB."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (Linux /proc), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in the background; keeps peak and last,
    and the CPU time the process used between start() and stop()."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid, self.interval = pid, interval
        self.peak = self.first = self.last = 0
        self.cpu_seconds = 0.0
        self._cpu_start = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.first = rss_kib(self.pid) or 0
        self._cpu_start = cpu_seconds(self.pid)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            value = rss_kib(self.pid)
            if value:
                self.last, self.peak = value, max(self.peak, value)
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        self.cpu_seconds = max(0.0, cpu_seconds(self.pid) - self._cpu_start)
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation); 0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
