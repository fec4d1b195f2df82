"""The ARQ worker process: shutdown mid-turn, health, timeouts, cancellation, redelivery.

A turn is held "in flight" without a fake model: the test takes an EXCLUSIVE lock on PostgreSQL's
``run_events`` table, so the job blocks on its first progress write, right after ``begin`` moved the
run to EXECUTING and stored the user's message. The lock is observable (run status) and releasable.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from arq.jobs import Job

from bridge.arq import ArqBridge, redis_client
from tests.conftest import ROOT
from core.settings import Settings
from jobs.worker import arq_timeout_seconds, health_check_key
from store import runs
from store.db import Database
from tests.worker_processes import WorkerPool

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def database_url(pg_url: str) -> str:
    """These tests hold a PostgreSQL table lock, so they run on PostgreSQL only."""
    return pg_url


@pytest.fixture
async def workers(tmp_path: Path, redis_url: str, pg_url: str) -> AsyncIterator[WorkerPool]:
    pool = WorkerPool(tmp_path=tmp_path, redis_url=redis_url, database_url=pg_url)
    pool.run_ids = []  # type: ignore[attr-defined]
    yield pool
    await pool.cleanup(pool.run_ids)  # type: ignore[attr-defined]


@pytest.fixture
async def pg_api(api_factory: Any, pg_url: str, workers: WorkerPool, tmp_path: Path) -> Any:
    return await api_factory(database_url=pg_url, task_backend="arq", redis_url=workers.redis_url,
                             arq_queue_name=workers.queue, data_dir=tmp_path / "data")


@contextlib.asynccontextmanager
async def run_events_locked(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    tx = conn.transaction()
    await tx.start()
    await conn.execute("LOCK TABLE run_events IN EXCLUSIVE MODE")
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):
            await tx.rollback()
        await conn.close()


async def wait_run_status(pg_url: str, run_id: str, status: str, timeout: float = 20) -> Any:
    db = Database(pg_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with db.read() as conn:
                row = await runs.get(conn, run_id)
            if row is not None and row["status"] == status:
                return row
            assert time.monotonic() < deadline, f"run {run_id} is {row and row['status']}, never {status}"
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()


async def start_turn(api: Any, pool: WorkerPool, session_id: str) -> str:
    response = await api.turn(session_id, "We sell payroll software to restaurant owners")
    assert response.status_code == 202, response.text
    pool.run_ids.append(response.json()["runId"])  # type: ignore[attr-defined]
    return response.json()["runId"]


async def test_sigterm_fails_an_in_flight_turn_cleanly_and_releases_its_claim(pg_api, workers, pg_url) -> None:
    worker = await workers.start(CAMPAIGN_CHAT_WORKER_SHUTDOWN_GRACE_SECONDS="1")
    session = await pg_api.create_session()
    async with run_events_locked(pg_url):
        run_id = await start_turn(pg_api, workers, session["id"])
        await wait_run_status(pg_url, run_id, "EXECUTING")
        worker.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(2.0)  # past the grace period: the worker cancels the turn
        assert worker.process.poll() is None, "the worker must not exit before recording the turn's outcome"
    assert await asyncio.to_thread(worker.process.wait, 30) == 0

    session = await pg_api.get_session(session["id"])
    assert session["task_status"] is None
    assert session["last_run"]["status"] == "failed"
    assert session["last_run"]["error"]["code"] == "interrupted"
    assert [m["role"] for m in session["messages"]] == ["user"]  # what the user said is kept
    assert (await wait_run_status(pg_url, run_id, "INTERRUPTED"))["completed_at"] is not None

    # ARQ puts the cancelled job back; the next worker finds the run finished and changes nothing.
    redis = redis_client(workers.redis_url)
    try:
        await workers.start()
        assert await Job(run_id, redis, _queue_name=workers.queue).result(timeout=20) is False
    finally:
        await redis.aclose()
    assert await pg_api.get_session(session["id"]) == session


async def test_sigterm_lets_a_turn_that_finishes_within_the_grace_period_succeed(pg_api, workers, pg_url) -> None:
    worker = await workers.start(CAMPAIGN_CHAT_WORKER_SHUTDOWN_GRACE_SECONDS="20")
    session = await pg_api.create_session()
    async with run_events_locked(pg_url):
        run_id = await start_turn(pg_api, workers, session["id"])
        await wait_run_status(pg_url, run_id, "EXECUTING")
        worker.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
    assert await asyncio.to_thread(worker.process.wait, 30) == 0

    done = await pg_api.get_session(session["id"])
    assert done["task_status"] is None and done["last_run"]["status"] == "succeeded"
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]


async def test_cancel_aborts_a_running_turn_as_canceled(pg_api, workers, pg_url) -> None:
    await workers.start()
    session = await pg_api.create_session()

    async def cancel(run_id: str) -> bool:
        bridge = ArqBridge(redis_url=workers.redis_url, queue_name=workers.queue, token_secret="s", env_id="e",
                           token_ttl=60)
        try:
            return await bridge.cancel(run_id)
        finally:
            await bridge.close()

    async with run_events_locked(pg_url):
        run_id = await start_turn(pg_api, workers, session["id"])
        await wait_run_status(pg_url, run_id, "EXECUTING")
        # As another API process would: its own loop, while this one holds (then drops) the lock.
        abort = asyncio.create_task(asyncio.to_thread(asyncio.run, cancel(run_id)))
        await asyncio.sleep(1.0)  # the worker polls for aborts; recording the cancel then waits on the lock
    assert await abort is True

    done = await pg_api.get_session(session["id"])
    assert done["task_status"] is None
    assert done["last_run"]["status"] == "canceled" and done["last_run"]["error"]["code"] == "canceled"
    assert (await wait_run_status(pg_url, run_id, "CANCELED"))["status"] == "CANCELED"


async def test_cancel_of_a_queued_turn_frees_the_session_when_a_worker_picks_it_up(pg_api, workers, pg_url) -> None:
    session = await pg_api.create_session()
    run_id = await start_turn(pg_api, workers, session["id"])  # no worker yet: the job waits in the queue
    bridge = ArqBridge(redis_url=workers.redis_url, queue_name=workers.queue, token_secret="s", env_id="e", token_ttl=60)
    try:
        assert await bridge.cancel(run_id) is True
    finally:
        await bridge.close()
    await workers.start()

    done = await pg_api.wait_idle(session["id"], timeout=30)
    assert done["last_run"]["status"] == "canceled"
    assert done["messages"] in (None, [])  # the turn never started
    assert (await wait_run_status(pg_url, run_id, "CANCELED"))["attempts"] == 0


async def test_worker_check_reports_health_of_the_queue(workers) -> None:
    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli.main", "worker", "--check"], cwd=ROOT, env=workers.env(),
                              capture_output=True, text=True, timeout=30)

    before = check()
    assert before.returncode == 1 and "no worker" in before.stderr
    worker = await workers.start()
    after = check()
    assert after.returncode == 0 and after.stdout.startswith("healthy")
    assert worker.terminate() == 0
    redis = redis_client(workers.redis_url)
    try:
        assert not await redis.exists(health_check_key(workers.queue))  # a clean exit withdraws it
    finally:
        await redis.aclose()
    assert check().returncode == 1


def test_arq_job_timeout_falls_between_our_deadline_and_the_claim_lease() -> None:
    for job_timeout, lease in ((240, 300), (1, 2), (60, 3600)):
        settings = Settings(job_timeout_seconds=job_timeout, claim_lease_seconds=lease)
        assert job_timeout < arq_timeout_seconds(settings) < lease
