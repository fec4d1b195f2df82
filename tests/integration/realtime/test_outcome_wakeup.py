"""The outcome wake-up, on every backend: a subscriber learns that a run ended from a wake-up, not a poll.

The subscriber is a live Electric shape long-poll on an API instance whose fallback poll is turned off
(its waits would last a minute). The run executes in the API (inline), in an ARQ worker process
(wake-up through Redis), or in the Trigger.dev task's Python job from another process (wake-up
through PostgreSQL NOTIFY). The terminal status must reach the subscriber within a second of being
written; without the wake-up that follows the outcome it would take the whole minute.
"""


import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store import runs
from tests.conftest import ROOT, Api, base_env
from tests.support.harness import provider_env, wait_for
from tests.support.provider import Provider
from tests.support.models import BlockingModel
from tests.support.fake_trigger import FakeTrigger, FakeRun
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.timeout(240)

NO_FALLBACK_POLL_SECONDS = 60.0
WITHIN_SECONDS = 1.0
SECRET = "tr_dev_wakeup_0123456789abcdef"


@pytest.fixture
def database_url(pg_url: str) -> str:
    """Workers and the Trigger.dev job are other processes: they share the test's PostgreSQL database."""
    return pg_url



def without_fallback_poll(api: Api) -> None:
    container = api.app.state.container
    container.wake.hub.poll_override = NO_FALLBACK_POLL_SECONDS
    container.feed.long_poll_seconds = NO_FALLBACK_POLL_SECONDS


async def watch_until_finished(api: Api, run_id: str, quiet: asyncio.Event) -> tuple[dict[str, Any], float]:
    """Subscribe like the SDK (snapshot, then live polls); set ``quiet`` once parked on an unchanged run.
    Returns the finished row and when it arrived (wall clock)."""
    url = f"/realtime/v1/runs/{run_id}"
    snap = await api.client.get(f"{url}?log=full&offset=-1", headers=api.headers, timeout=90)
    handle, offset = snap.headers["electric-handle"], snap.headers["electric-offset"]
    row = snap.json()[0]["value"]
    while not row["completedAt"]:
        poll = asyncio.ensure_future(api.client.get(
            f"{url}?cursor=&handle={handle}&live=true&log=full&offset={offset}", headers=api.headers, timeout=90))
        done, _ = await asyncio.wait({poll}, timeout=0.3)
        if not done:
            quiet.set()  # nothing changed for a while: the run is waiting on its model
        response = await poll
        arrived = time.time()
        offset = response.headers["electric-offset"]
        changes = [m for m in response.json() if "key" in m]
        if changes:
            row = changes[-1]["value"]
    return row, arrived


async def completed_at(api: Api, run_id: str) -> float:
    run = await api.app.state.container.db.run_read(runs.get, run_id)
    assert run is not None and run.completed_at is not None
    return run.completed_at.timestamp()


async def check(api: Api, run_id: str, let_it_finish: Callable[[], Any]) -> None:
    quiet = asyncio.Event()
    watcher = asyncio.ensure_future(watch_until_finished(api, run_id, quiet))
    await asyncio.wait_for(quiet.wait(), 60)
    await let_it_finish()
    row, arrived = await asyncio.wait_for(watcher, NO_FALLBACK_POLL_SECONDS + 30)
    assert row["status"] == "COMPLETED_SUCCESSFULLY"
    lag = arrived - await completed_at(api, run_id)
    assert lag < WITHIN_SECONDS, f"the final status reached the subscriber {lag:.2f}s after it was written"


async def test_inline(api_factory: Any) -> None:
    model = BlockingModel()
    api = await api_factory(llm=model)
    without_fallback_poll(api)
    session = await api.create_session()
    run_id = (await api.turn(session["id"])).json()["runId"]
    await model.entered.wait()

    async def finish() -> None:
        model.release.set()

    await check(api, run_id, finish)


async def test_arq_worker_process(api_factory: Any, tmp_path: Path, redis_url: str, pg_url: str,
                                  held: Provider) -> None:
    workers = WorkerPool(tmp_path=tmp_path, redis_url=redis_url, database_url=pg_url)
    try:
        await workers.start(**provider_env(held.url))
        api = await api_factory(task_backend="arq", redis_url=redis_url, arq_queue_name=workers.queue)
        without_fallback_poll(api)
        session = await api.create_session()
        run_id = (await api.turn(session["id"])).json()["runId"]
        await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the turn to call its model", timeout=60)

        async def finish() -> None:
            held.gate.set()

        await check(api, run_id, finish)
    finally:
        await workers.cleanup([])


async def test_trigger_job_process(api_factory: Any, tmp_path: Path, pg_url: str, held: Provider) -> None:
    triggered: list[FakeRun] = []
    fake = FakeTrigger(SECRET, on_trigger=lambda _fake, run: triggered.append(run)).start()
    try:
        api = await api_factory(task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=SECRET)
        without_fallback_poll(api)
        session = await api.create_session()
        run_id = (await api.turn(session["id"])).json()["runId"]
        payload = tmp_path / "payload.json"
        payload.write_text(triggered[-1].payload)
        env = base_env(tmp_path, DATABASE_URL=pg_url, TRIGGER_RUN_ID=run_id, TRIGGER_SECRET_KEY=SECRET,
                       TRIGGER_API_URL=fake.url, **provider_env(held.url))
        job = subprocess.Popen([sys.executable, "-m", "bridge.trigger_task", str(payload)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the job to call its model", timeout=60)

            async def finish() -> None:
                held.gate.set()

            await check(api, run_id, finish)
            out, err = await asyncio.to_thread(job.communicate, timeout=60)
            assert job.returncode == 0, err.decode()
            assert json.loads(out.decode().splitlines()[-1])["result"]["status"] == "COMPLETED_SUCCESSFULLY"
        finally:
            if job.poll() is None:
                job.kill()
    finally:
        fake.close()
