"""TASK_BACKEND=arq: the API enqueues on a real Redis and separate worker processes run the turns."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from arq.constants import result_key_prefix

from bridge.arq_queue import JOB_FUNCTION, ArqBridge
from bridge.tokens import TokenSigner
from store.redis import redis_client
from core.payloads import payload_from_builtins
from store import runs
from store.db import Database
from tests.support.harness import wait_for
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.timeout(180)

IGNORED = {"id", "user_id", "campaign_id", "node_id", "created_at", "updated_at", "run_id"}


def comparable(session: dict[str, Any]) -> dict[str, Any]:
    """A session without what legitimately differs between two runs of one scenario (ids, times)."""
    out = {k: v for k, v in session.items() if k not in IGNORED}
    if out.get("last_run"):
        out["last_run"] = {k: v for k, v in out["last_run"].items() if k not in ("id", "finished_at")}
    return out


async def start_turn(api: Any, session_id: str, pool: WorkerPool, message: str, **extra: Any) -> str:
    response = await api.turn(session_id, message, **extra)
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    pool.run_ids.append(run_id)
    return run_id


async def run_row(api: Any, run_id: str) -> Any:
    # Our own engine: the app's is bound to the test client's loop.
    db = Database(api.app.state.container.settings.database_url)
    try:
        row = await db.run_read(runs.get, run_id)
    finally:
        await db.dispose()
    return msgspec.to_builtins(row, builtin_types=(datetime,)) if row else None


@contextlib.asynccontextmanager
async def own_bridge(pool: WorkerPool) -> AsyncIterator[ArqBridge]:
    """An ArqBridge like the API's, on this test's loop, with its own Redis client."""
    redis = redis_client(pool.redis_url)
    try:
        yield ArqBridge(redis=redis, queue_name=pool.queue,
                        signer=TokenSigner(secret="test-secret", env_id="env_test", ttl_seconds=600))
    finally:
        await redis.aclose()


async def result_stored(pool: WorkerPool, job_id: str) -> bool:
    redis = redis_client(pool.redis_url)
    try:
        return bool(await redis.exists(result_key_prefix + job_id))
    finally:
        await redis.aclose()


async def queued_jobs(pool: WorkerPool) -> int:
    redis = redis_client(pool.redis_url)
    try:
        return await redis.zcard(pool.queue)
    finally:
        await redis.aclose()


SCENARIO = [
    ("We sell payroll software to restaurant owners", {"availableVarNames": ["first_name", "company"]}),
    ("Make it about saving four hours a week on scheduling", {"availableVarNames": ["first_name", "company"]}),
]


async def play(api: Any, pool: WorkerPool) -> dict[str, Any]:
    session = await api.create_session(title="Intro email")
    for message, extra in SCENARIO:
        await start_turn(api, session["id"], pool, message, **extra)
        await api.wait_idle(session["id"], timeout=30)
    response = await api.client.post(
        f"/api/campaigns/ai-chat-sessions/{session['id']}/generate-examples",
        json={"leads": [{"first_name": "Ana", "company": "Taqueria Sol"}, {"first_name": "Bo", "company": "Pho 99"}]},
        headers=api.headers,
    )
    assert response.status_code == 202, response.text
    pool.run_ids.append(response.json()["runId"])
    return await api.wait_idle(session["id"], timeout=30)


async def test_a_turn_dispatched_to_arq_completes_in_a_separate_worker_process(api_factory, workers) -> None:
    worker = await workers.start()
    api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)
    assert isinstance(api.app.state.container.bridge, ArqBridge)
    session = await api.create_session()

    run_id = await start_turn(api, session["id"], workers, "We sell payroll software to restaurants")
    done = await api.wait_idle(session["id"], timeout=30)

    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]
    assert done["last_run"]["status"] == "succeeded" and done["last_run"]["id"] == run_id
    row = await run_row(api, run_id)
    assert (row["status"], row["backend"], row["attempts"]) == ("COMPLETED_SUCCESSFULLY", "arq", 1)
    assert run_id in worker.logs(), "the worker process, not the API, ran the job"
    assert api.app.state.container.bridge.name == "arq"


async def test_inline_and_arq_produce_the_same_session_field_by_field(api_factory, workers) -> None:
    await workers.start()
    inline_api = await api_factory()
    arq_api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)

    inline_session = await play(inline_api, workers)
    arq_session = await play(arq_api, workers)

    assert inline_session["skeleton"] is not None and inline_session["generated_examples"]
    assert comparable(arq_session) == comparable(inline_session)


async def test_a_repeated_dispatch_of_one_run_never_runs_it_twice(api_factory, workers) -> None:
    api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)
    session = await api.create_session()
    run_id = await start_turn(api, session["id"], workers, "We sell payroll software to restaurants")
    payload = payload_from_builtins((await run_row(api, run_id))["payload"])

    async with own_bridge(workers) as bridge:
        assert await queued_jobs(workers) == 1
        again = await bridge.dispatch(payload)  # a client retry, a replayed request...
        assert again.run_id == run_id
        assert await queued_jobs(workers) == 1  # not enqueued a second time
        await workers.start()
        done = await api.wait_idle(session["id"], timeout=30)
        # The session is released inside the job; ARQ takes the job off its queue (and stores its result)
        # only once the job function has returned, a moment later: count after that.
        await wait_for(lambda: result_stored(workers, run_id), "ARQ to store the job's result", timeout=10)
        after = await bridge.dispatch(payload)  # ...even after the run finished
        assert after.run_id == run_id
        assert await queued_jobs(workers) == 0  # ARQ refused the id: its result is still kept

    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]
    assert (await api.get_session(session["id"]))["messages"] == done["messages"]
    assert (await run_row(api, run_id))["attempts"] == 1


async def test_a_redelivered_job_finds_its_run_started_and_changes_nothing(api_factory, workers) -> None:
    """ARQ retries (max_tries) deliver the same payload again; the run is no longer PENDING then."""
    await workers.start()
    api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)
    session = await api.create_session()
    run_id = await start_turn(api, session["id"], workers, "We sell payroll software to restaurants")
    done = await api.wait_idle(session["id"], timeout=30)
    raw = (await run_row(api, run_id))["payload"]

    redis = redis_client(workers.redis_url)
    redelivery = f"{run_id}-redelivery"
    workers.run_ids.append(redelivery)
    try:
        job = await redis.enqueue_job(JOB_FUNCTION, raw, _job_id=redelivery, _queue_name=workers.queue)
        assert job is not None
        assert await job.result(timeout=20) is False  # nothing to run
    finally:
        await redis.aclose()

    assert await api.get_session(session["id"]) == done
    assert (await run_row(api, run_id))["attempts"] == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int, tmp_path: Path) -> None:
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                    "--appendonly", "no", "--dir", str(tmp_path), "--pidfile", str(tmp_path / f"redis-{port}.pid")],
                   check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
        assert time.monotonic() < deadline, "dedicated redis-server did not start"
        time.sleep(0.05)


def _stop_redis(port: int) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "dedicated redis-server did not stop"
        time.sleep(0.05)


@pytest.fixture
def own_redis(tmp_path: Path) -> Any:
    """A redis-server of this test's own on a free port, so stopping it disturbs nobody."""
    port = _free_port()
    _start_redis(port, tmp_path)
    yield port
    _stop_redis(port)


async def test_redis_down_at_dispatch_gives_500_releases_the_claim_and_recovers(
    own_redis, api_factory, workers, tmp_path
) -> None:
    workers.redis_url = f"redis://127.0.0.1:{own_redis}/0"
    api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)
    session = await api.create_session()
    _stop_redis(own_redis)

    failed = await api.turn(session["id"], "We sell payroll software to restaurants")

    assert failed.status_code == 500, failed.text
    assert failed.json()["code"] == "dispatch_failed"
    released = await api.get_session(session["id"])
    assert released["task_status"] is None and released["messages"] in (None, [])
    failed_run = await run_row(api, failed.json().get("run_id") or await _only_run_id(api, session["id"]))
    assert failed_run["status"] == "SYSTEM_FAILURE" and failed_run["error"]["name"] == "dispatch_failed"

    _start_redis(own_redis, tmp_path)  # same API process, no restart
    run_id = await start_turn(api, session["id"], workers, "We sell payroll software to restaurants")
    await workers.start()
    done = await api.wait_idle(session["id"], timeout=30)
    assert done["last_run"] == {**done["last_run"], "id": run_id, "status": "succeeded"}
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]


async def _only_run_id(api: Any, session_id: str) -> str:
    db = Database(api.app.state.container.settings.database_url)
    try:
        rows = await db.run_read(runs.list_runs, session_id=session_id)
    finally:
        await db.dispose()
    assert len(rows) == 1
    return rows[0].id


async def test_unique_queue_per_test_keeps_other_queues_untouched(api_factory, workers) -> None:
    """Jobs land on CAMPAIGN_CHAT_ARQ_QUEUE_NAME only: a worker on another queue never sees them."""
    other = WorkerPool(tmp_path=workers.tmp_path, redis_url=workers.redis_url, database_url=workers.database_url)
    try:
        await other.start()
        api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)
        session = await api.create_session()
        run_id = await start_turn(api, session["id"], workers, "hello")
        redis = redis_client(workers.redis_url)
        try:  # the job sits on this test's queue only, where no worker runs yet
            assert await redis.zscore(workers.queue, run_id) is not None
            assert await redis.zcard(other.queue) == 0
        finally:
            await redis.aclose()
        assert (await api.get_session(session["id"]))["task_status"] == "chat_processing"
        assert (await run_row(api, run_id))["status"] == "PENDING"
        await workers.start()
        assert (await api.wait_idle(session["id"], timeout=30))["last_run"]["status"] == "succeeded"
    finally:
        await other.cleanup([])



async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected


async def arq_records(pool: WorkerPool, run_id: str) -> list[str]:
    """Which of ARQ's records of ``run_id`` exist in Redis (job: queued, result: ran)."""
    redis = redis_client(pool.redis_url)
    try:
        return [kind for kind in ("job", "result") if await redis.exists(f"arq:{kind}:{run_id}")]
    finally:
        await redis.aclose()


async def test_deleting_a_session_drops_what_redis_keeps_of_its_runs(api_factory, workers) -> None:
    """ARQ keeps a queued job and, for an hour, a finished job's result; both repeat the payload."""
    api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)
    ran, queued = await api.create_session(), await api.create_session()
    await workers.start()
    ran_id = await start_turn(api, ran["id"], workers, "We sell payroll software to restaurants")
    await api.wait_idle(ran["id"], timeout=30)
    # ARQ stores the result once the job function returned, just after the session was released.
    await wait_for(lambda: _equals(arq_records(workers, ran_id), ["result"]), "ARQ to store the result")
    assert (await api.client.delete(f"/api/campaigns/ai-chat-sessions/{ran['id']}", headers=api.headers)).status_code == 200
    assert await arq_records(workers, ran_id) == []

    for worker in workers.started:
        assert worker.terminate() == 0
    queued_id = await start_turn(api, queued["id"], workers, "We sell payroll software to restaurants")
    assert await arq_records(workers, queued_id) == ["job"]
    assert (await api.client.delete(f"/api/campaigns/ai-chat-sessions/{queued['id']}", headers=api.headers)).status_code == 200
    assert await arq_records(workers, queued_id) == []
