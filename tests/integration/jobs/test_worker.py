"""The ARQ worker process: shutdown mid-turn, health, timeouts, cancellation, redelivery.

A turn is held "in flight" the way a slow model holds it: the worker's model is an OpenAI-compatible
stub (tests/support/provider.py, mode ``held``) that answers only once the test opens its gate. The
test waits until the model has been called (the turn is running), and can let it answer.
"""


import asyncio
import subprocess
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from arq.jobs import Job

from bridge.arq_queue import ArqBridge, health_check_key
from bridge.arq_worker import arq_timeout_seconds
from bridge.tokens import TokenSigner
from core.settings import Settings
from store.redis import redis_client
from tests.conftest import ROOT
from tests.support.harness import provider_env, run_row, wait_for, wait_run_status
from tests.support.provider import Provider
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def database_url(pg_url: str) -> str:
    """Workers are separate processes: they share the test's PostgreSQL database."""
    return pg_url



async def in_flight(model: Provider, calls: int = 1) -> None:
    """Wait until the worker's turn is inside its model call."""
    await wait_for(lambda: asyncio.sleep(0, model.requests >= calls), "the turn to call its model", timeout=60)


@pytest.fixture
async def pg_api(api_factory: Any, pg_url: str, workers: WorkerPool, tmp_path: Path) -> Any:
    return await api_factory(database_url=pg_url, task_backend="arq", redis_url=workers.redis_url,
                             arq_queue_name=workers.queue, data_dir=tmp_path / "data")


async def run_status(pg_url: str, run_id: str) -> str | None:
    row = await run_row(pg_url, run_id)
    return row["status"] if row else None


async def start_turn(api: Any, pool: WorkerPool, session_id: str) -> str:
    response = await api.turn(session_id, "We sell payroll software to restaurant owners")
    assert response.status_code == 202, response.text
    pool.run_ids.append(response.json()["runId"])
    return response.json()["runId"]


async def test_sigterm_fails_an_in_flight_turn_cleanly_and_releases_its_claim(pg_api, workers, pg_url, held) -> None:
    worker = await workers.start(CAMPAIGN_CHAT_WORKER_SHUTDOWN_GRACE_SECONDS="1", **provider_env(held.url))
    session = await pg_api.create_session()
    run_id = await start_turn(pg_api, workers, session["id"])
    await in_flight(held)
    worker.process.send_signal(signal.SIGTERM)
    # Past the grace period the worker cancels the turn; it exits only once the outcome is written.
    assert await asyncio.to_thread(worker.process.wait, 60) == 0
    assert (await run_status(pg_url, run_id)) == "INTERRUPTED", worker.logs()

    session = await pg_api.get_session(session["id"])
    assert session["task_status"] is None
    assert session["last_run"]["status"] == "failed"
    assert session["last_run"]["error"]["code"] == "interrupted"
    assert [m["role"] for m in session["messages"]] == ["user"]  # what the user said is kept
    assert (await wait_run_status(pg_url, run_id, "INTERRUPTED"))["completed_at"] is not None

    # ARQ puts the cancelled job back; the next worker finds the run finished and changes nothing.
    redis = redis_client(workers.redis_url)
    try:
        await workers.start(**provider_env(held.url))
        assert await Job(run_id, redis, _queue_name=workers.queue).result(timeout=20) is False
    finally:
        await redis.aclose()
    assert await pg_api.get_session(session["id"]) == session


async def test_sigterm_lets_a_turn_that_finishes_within_the_grace_period_succeed(pg_api, workers, pg_url,
                                                                                 held) -> None:
    worker = await workers.start(CAMPAIGN_CHAT_WORKER_SHUTDOWN_GRACE_SECONDS="20", **provider_env(held.url))
    session = await pg_api.create_session()
    await start_turn(pg_api, workers, session["id"])
    await in_flight(held)
    worker.process.send_signal(signal.SIGTERM)
    await wait_for(lambda: asyncio.sleep(0, "Setting allow_pick_jobs" in worker.logs()), "the worker to stop picking")
    held.gate.set()  # the model answers within the grace period
    assert await asyncio.to_thread(worker.process.wait, 60) == 0

    done = await pg_api.get_session(session["id"])
    assert done["task_status"] is None and done["last_run"]["status"] == "succeeded"
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]


async def cancel_via_redis(workers: WorkerPool, run_id: str) -> bool:
    """What any API instance's ARQ bridge does for ``POST /api/v2/runs/{id}/cancel``."""
    redis = redis_client(workers.redis_url)
    try:
        signer = TokenSigner(secret="s", env_id="e", ttl_seconds=60)
        return await ArqBridge(redis=redis, queue_name=workers.queue, signer=signer).cancel(run_id)
    finally:
        await redis.aclose()


async def test_cancel_aborts_a_running_turn_as_canceled(pg_api, workers, pg_url, held) -> None:
    await workers.start(**provider_env(held.url))
    session = await pg_api.create_session()
    run_id = await start_turn(pg_api, workers, session["id"])
    await in_flight(held)
    assert await cancel_via_redis(workers, run_id) is True

    done = await pg_api.get_session(session["id"])
    assert done["task_status"] is None
    assert done["last_run"]["status"] == "canceled" and done["last_run"]["error"]["code"] == "canceled"
    assert (await wait_run_status(pg_url, run_id, "CANCELED"))["status"] == "CANCELED"


async def test_cancel_of_a_queued_turn_frees_the_session_when_a_worker_picks_it_up(pg_api, workers, pg_url) -> None:
    session = await pg_api.create_session()
    run_id = await start_turn(pg_api, workers, session["id"])  # no worker yet: the job waits in the queue
    assert await cancel_via_redis(workers, run_id) is True
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


def test_arq_job_timeout_comes_after_our_own_deadline() -> None:
    for job_timeout in (1, 60, 240, 3600):
        assert arq_timeout_seconds(Settings(job_timeout_seconds=job_timeout)) > job_timeout


async def test_a_job_whose_session_is_deleted_while_it_runs_leaves_no_result_in_redis(pg_api, workers, held) -> None:
    """ARQ stores a finished job's result with its arguments (the payload); an erased run's must go."""
    worker = await workers.start(**provider_env(held.url))
    session = await pg_api.create_session()
    run_id = await start_turn(pg_api, workers, session["id"])
    await in_flight(held)
    deleted = await pg_api.client.delete(f"/api/campaigns/ai-chat-sessions/{session['id']}", headers=pg_api.headers)
    assert deleted.status_code == 200, deleted.text
    held.gate.set()
    await wait_for(lambda: asyncio.sleep(0, f"run {run_id} was erased" in worker.logs()), "the job to end")
    redis = redis_client(workers.redis_url)
    try:
        assert not await redis.exists(f"arq:result:{run_id}")
    finally:
        await redis.aclose()
