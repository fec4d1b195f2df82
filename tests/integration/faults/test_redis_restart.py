"""Redis stops and comes back: dispatch fails cleanly meanwhile, then API and worker carry on unrestarted.

Runs against a redis-server of the test's own (stopping the shared one would break other tests).

Protections proved: (1) ``SessionService._dispatch`` releases the claim and fails the run when the
bridge cannot enqueue, answering 500 ``dispatch_failed``; (2) ``bridge.arq`` opens connections per
command with short timeouts, so the API dispatches again as soon as Redis is back; (3) the worker's
poll loop (``jobs.worker.ResilientWorker``) survives a lost Redis and reconnects. Verified by removing
the release in ``_release_after_failed_dispatch`` (the session stays busy: 409 after Redis returns)
and by using ARQ's plain ``Worker`` (the worker process exits when Redis goes away).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.support.harness import run_row, start_turn, start_worker, wait_for
from tests.support.services import OwnRedis
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.timeout(90)


async def test_dispatch_fails_cleanly_while_redis_is_down_and_recovers_without_restarts(
    api_factory: Any, workers: WorkerPool, own_redis: OwnRedis, pg_url: str
) -> None:
    workers.redis_url = own_redis.url
    worker = await start_worker(workers)
    api = await api_factory(task_backend="arq", redis_url=own_redis.url, arq_queue_name=workers.queue)
    session = await api.create_session()
    await start_turn(api, session["id"], "We sell payroll software to restaurant owners")
    assert [m["role"] for m in (await api.wait_idle(session["id"], timeout=30))["messages"]] == ["user", "assistant"]

    await asyncio.to_thread(own_redis.stop)
    began = time.monotonic()
    failed = await api.turn(session["id"], "Make it about saving four hours a week")
    assert failed.status_code == 500, failed.text
    assert failed.json()["code"] == "dispatch_failed"
    assert time.monotonic() - began < 10  # a bounded connect timeout, not a hang
    released = await api.get_session(session["id"])
    assert released["task_status"] is None and released["run_id"] is None  # free to retry at once
    assert [m["role"] for m in released["messages"]] == ["user", "assistant"]  # nothing half-written
    # The worker notices Redis is gone (its poll loop fails) and keeps running.
    await wait_for(lambda: asyncio.sleep(0, "Redis unreachable" in worker.logs()), "the worker to lose Redis")

    await asyncio.to_thread(own_redis.start)  # same port, empty: a restarted Redis
    retried = await start_turn(api, session["id"], "Make it about saving four hours a week")
    done = await api.wait_idle(session["id"], timeout=30)

    assert worker.process.poll() is None, f"the worker died with Redis:\n{worker.logs()[-3000:]}"
    assert len(workers.started) == 1  # the same worker process, reconnected
    assert done["last_run"]["id"] == retried and done["last_run"]["status"] == "succeeded"
    assert [m["role"] for m in done["messages"]] == ["user", "assistant", "user", "assistant"]
    assert (await run_row(pg_url, retried))["status"] == "COMPLETED_SUCCESSFULLY"
