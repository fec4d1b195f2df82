"""Shared fixtures: real databases (SQLite file and PostgreSQL), real Redis, the app, API keys.

PostgreSQL and Redis come from ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` (set by scripts/test.sh);
when they are missing this file starts them with scripts/services.sh, so a bare ``pytest`` works too.
Each pytest run gets its own PostgreSQL database and its own Redis key prefix, so parallel runs
(several checkouts on one machine) never see each other's data.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from core.ids import utcnow
from core.settings import Settings
from store import keys
from store.db import Database
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is the slow tier: ``pytest -m "not integration"`` skips it."""
    for item in items:
        if INTEGRATION in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


def _service_env() -> dict[str, str]:
    if os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL"):
        return {"TEST_DATABASE_URL": os.environ["TEST_DATABASE_URL"], "TEST_REDIS_URL": os.environ["TEST_REDIS_URL"]}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh")], check=True, capture_output=True, text=True)
    env = {}
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def service_env() -> dict[str, str]:
    return _service_env()


@contextmanager
def scratch_pg_database(service_env: dict[str, str], prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server (its URL), dropped afterwards."""
    base = make_url(service_env["TEST_DATABASE_URL"])
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin_dsn = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_url(service_env: dict[str, str]) -> Iterator[str]:
    """A fresh PostgreSQL database for this pytest run, migrated to head."""
    with scratch_pg_database(service_env, "cc_test") as url:
        async def migrate() -> None:
            db = Database(url)
            await upgrade(db)
            await db.dispose()

        asyncio.run(migrate())
        yield url


@pytest.fixture(scope="session")
def redis_url(service_env: dict[str, str]) -> str:
    return service_env["TEST_REDIS_URL"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite (a fresh file) and once on PostgreSQL (the run's database)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_token_secret="test-public-token-secret-0123456789abcdef",
        log_format="json",
        rate_limit_per_minute=0,  # tests that poll hard are not about the limiter; tests/api/test_rate_limit.py is
        embedded_worker=False,  # in-loop apps run turns on the test's loop (live servers use the worker process)
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    await upgrade(database)
    yield database
    await database.dispose()


async def make_key(database: Database, user_id: str | None = None) -> keys.NewKey:
    async with database.write() as conn:
        return await keys.create(conn, user_id=user_id, label="test", now=utcnow())


@dataclass
class Api:
    """An app under test with one user's key; ``other`` is a second user's client headers."""

    client: httpx.AsyncClient
    app: Any
    headers: dict[str, str]
    user_id: str
    other_headers: dict[str, str]

    async def in_app(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (sync or async); the app shares the test's event loop."""
        result = fn(*args)
        return await result if inspect.isawaitable(result) else result

    async def create_session(self, **overrides: Any) -> dict[str, Any]:
        body = {"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4()), **overrides}
        response = await self.client.post("/api/campaigns/ai-chat-sessions", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()["session"]

    async def get_session(self, session_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/campaigns/ai-chat-sessions/{session_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["session"]

    async def turn(self, session_id: str, message: str = "Write an intro email", **extra: Any) -> httpx.Response:
        return await self.client.post(
            f"/api/campaigns/ai-chat-sessions/{session_id}/turn", json={"message": message, **extra}, headers=self.headers
        )

    async def wait_idle(self, session_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            session = await self.get_session(session_id)
            if session["task_status"] is None:
                return session
            if time.monotonic() > deadline:
                raise AssertionError(f"session {session_id} still busy: {session['task_status']}")
            await asyncio.sleep(0.02)


SHUTDOWN_SECONDS = 30


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Drive an ASGI app's lifespan in this event loop (the app's tasks share the test's loop)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put))
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        await task
        raise RuntimeError(f"app failed to start: {started}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        try:
            # Bounded: a shutdown stuck on a broken dependency must fail the test, not hang the suite.
            await asyncio.wait_for(outbox.get(), SHUTDOWN_SECONDS)
            await asyncio.wait_for(task, SHUTDOWN_SECONDS)
        except TimeoutError:
            stuck = "".join(_stack(t) for t in asyncio.all_tasks() if t is not asyncio.current_task())
            task.cancel()
            raise AssertionError(f"the app did not shut down within {SHUTDOWN_SECONDS}s; tasks:\n{stuck}") from None


def _stack(task: asyncio.Task[Any]) -> str:
    import io

    out = io.StringIO()
    task.print_stack(file=out)
    return out.getvalue()


@asynccontextmanager
async def app_factory(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """Start apps in this loop (optionally with other settings or a scripted LLM); each yields an :class:`Api`."""
    from api.app import create_app

    async with AsyncExitStack() as stack:

        async def start(llm: Any = None, **setting_overrides: Any) -> Api:
            app = create_app(replace(settings, **setting_overrides), llm=llm)
            await stack.enter_async_context(lifespan(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=30)
            )
            mine = await make_key(app.state.container.db)
            other = await make_key(app.state.container.db)
            return Api(client=client, app=app, headers={"Authorization": f"Bearer {mine.key}"}, user_id=mine.user_id,
                       other_headers={"Authorization": f"Bearer {other.key}"})

        yield start


@pytest.fixture
async def api_factory(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    async with app_factory(settings) as start:
        yield start


@pytest.fixture
async def api(api_factory: Callable[..., Any]) -> Api:
    return await api_factory()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def create_key(self, user_id: str | None = None) -> str:
        args = ["keys", "create"] + (["--user-id", user_id] if user_id else [])
        out = run_cli(args, self.env)
        return out.strip().splitlines()[-1]

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def run_cli(args: list[str], env: dict[str, str], *, check: bool = True) -> str:
    result = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"campaign-chat {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_")}
    env.update(
        CAMPAIGN_CHAT_DATA_DIR=str(tmp_path / "data"),
        CAMPAIGN_CHAT_LOG_FORMAT="json",
        CAMPAIGN_CHAT_RATE_LIMIT_PER_MINUTE="0",  # as in `settings`; a test that needs the limiter sets it
        PYTHONPATH=str(ROOT),
    )
    for name in ("DATABASE_URL", "TASK_BACKEND", "REDIS_URL", "LLM_MODEL"):
        env.pop(name, None)
    env.update(extra)
    return env


def start_server(tmp_path: Path, *, migrate: bool = True, **env_extra: str) -> LiveServer:
    port = free_port()
    env = base_env(tmp_path, **env_extra)
    if migrate and not env.get("DATABASE_URL", "sqlite").startswith("sqlite"):
        run_cli(["migrate"], env)
    log_path = tmp_path / f"server-{port}.log"
    handle = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=handle,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # generous: a loaded 2-core machine imports the app slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return LiveServer(url=url, env=env, process=process, log_path=log_path)
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"server did not start: {log_path.read_text()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        server = start_server(tmp_path, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)
