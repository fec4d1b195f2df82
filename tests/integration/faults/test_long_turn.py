"""A healthy turn that outlives its claim lease many times keeps its claim, on every backend.

The claim lease is short (15 s by default) so that a dead worker frees its session quickly; a live
task keeps it with a heartbeat that renews it every third of the lease for as long as the task runs
(``jobs.guard._heartbeat``, the same code under every launcher). Here the lease is 3 s (a beat every
second, the API's reaper sweeping every 0.75 s) and the model answers only after the turn has run for
more than three leases: the session must stay claimed by the same run the whole time (a second turn
is 409 naming it), and the turn must end succeeded, not ``lease_expired``. A 200-second turn under the
default 15 s lease is the same situation (a beat every 5 s, renewing a lease with 10 s to spare).

Protection proved: the heartbeat. Verified by making ``_heartbeat`` return at once: on every backend
the reaper then ends the run ``lease_expired`` within about a lease and frees the session mid-turn.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, base_env
from tests.support.fake_trigger import FakeTrigger
from tests.support.harness import provider_env, provider_settings, run_row, session_row, wait_for
from tests.support.provider import Provider, provider
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.timeout(150)

BASE = "/api/campaigns/ai-chat-sessions"
LEASE = 3
LEASES_OUTLIVED = 3
TRIGGER_SECRET = "tr_dev_long_turn_0123456789abcdef"
LEASE_ENV = {"CAMPAIGN_CHAT_CLAIM_LEASE_SECONDS": str(LEASE), "CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS": "120"}
LEASE_SETTINGS = {"claim_lease_seconds": LEASE, "job_timeout_seconds": 120}


@dataclass
class Target:
    """Where the test sends its requests: an app in this loop or a live server."""

    client: httpx.AsyncClient
    headers: dict[str, str]

    async def create_session(self) -> str:
        body = {"campaign_id": "8c2b2d4e-e29b-41d4-a716-446655440000", "node_id": "8c2b2d4e-e29b-41d4-a716-446655440001"}
        response = await self.client.post(BASE, json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()["session"]["id"]

    async def turn(self, session_id: str) -> httpx.Response:
        return await self.client.post(f"{BASE}/{session_id}/turn", json={"message": "Intro email for VPs of Sales"},
                                      headers=self.headers)

    async def get(self, session_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{BASE}/{session_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["session"]


@asynccontextmanager
async def deployment(backend: str, held: Provider, pg_url: str, api_factory: Any, live_server_factory: Any,
                     workers: WorkerPool, tmp_path: Path) -> AsyncIterator[tuple[Target, Any]]:
    """(where to send requests, a coroutine function run after each dispatch: the Trigger.dev task)."""
    if backend == "inline":  # the task runs on the API's own loop
        api = await api_factory(**LEASE_SETTINGS, **provider_settings(held.url))
        yield Target(api.client, api.headers), None
    elif backend == "embedded":  # `serve`'s default: a worker process the API supervises
        server = live_server_factory(DATABASE_URL=pg_url, **LEASE_ENV, **provider_env(held.url))
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield Target(client, {"Authorization": f"Bearer {server.create_key()}"}), None
    elif backend == "arq":
        await workers.start(**LEASE_ENV, **provider_env(held.url))
        api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue,
                                **LEASE_SETTINGS)
        yield Target(api.client, api.headers), None
    else:  # trigger: the API triggers on a fake Trigger.dev; the job is the Python task process
        fake = FakeTrigger(TRIGGER_SECRET).start()
        try:
            api = await api_factory(task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=TRIGGER_SECRET,
                                    **LEASE_SETTINGS)

            async def run_task(trigger_run_id: str) -> None:
                payload = json.loads(fake.runs[trigger_run_id].payload)
                path = tmp_path / "payload.json"
                path.write_text(json.dumps(payload))
                env = base_env(tmp_path, DATABASE_URL=pg_url, TRIGGER_RUN_ID=trigger_run_id,
                               TRIGGER_SECRET_KEY=TRIGGER_SECRET, TRIGGER_API_URL=fake.url, **LEASE_ENV,
                               **provider_env(held.url))
                process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bridge.trigger_task", str(path),
                                                               cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                               stderr=asyncio.subprocess.STDOUT)
                tasks.append(asyncio.create_task(process.communicate()))

            tasks: list[asyncio.Task[Any]] = []
            yield Target(api.client, api.headers), run_task
            for task in tasks:
                await asyncio.wait_for(task, 60)
        finally:
            fake.close()


@pytest.mark.parametrize("backend", ["inline", "embedded", "arq", "trigger"])
async def test_a_turn_lasting_several_leases_keeps_its_claim_and_succeeds(
        backend: str, pg_url: str, api_factory: Any, live_server_factory: Any, workers: WorkerPool,
        tmp_path: Path) -> None:
    with provider("held") as held:
        async with deployment(backend, held, pg_url, api_factory, live_server_factory, workers, tmp_path) as (
                target, run_task):
            session_id = await target.create_session()
            turn = await target.turn(session_id)
            assert turn.status_code == 202, turn.text
            public_id = turn.json()["runId"]
            workers.run_ids.append(public_id)
            if run_task is not None:
                await run_task(public_id)
            await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the turn to call its model", timeout=60)
            run_id = (await run_row(pg_url, public_id))["id"]
            leases: set[Any] = set()

            async def still_held_after_several_leases() -> bool:
                row = await session_row(pg_url, session_id)
                assert (row["task_status"], row["claim_run_id"]) == ("chat_processing", run_id), row  # never lost
                leases.add(row["lease_expires_at"])
                busy = await target.turn(session_id)
                assert busy.status_code == 409 and busy.json()["run_id"] == public_id, busy.text
                # A new lease end per beat (every lease/3): this many means the turn outlived that many leases.
                return len(leases) > 3 * LEASES_OUTLIVED

            await wait_for(still_held_after_several_leases, "the heartbeat to renew the lease", timeout=60,
                           interval=0.2)
            held.gate.set()  # the model answers at last

            async def idle() -> dict[str, Any] | None:
                session = await target.get(session_id)
                return session if session["task_status"] is None else None

            done = await wait_for(idle, "the turn to finish", timeout=60)
    assert done["last_run"]["id"] == public_id and done["last_run"]["status"] == "succeeded", done["last_run"]
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]
    assert (await run_row(pg_url, public_id))["status"] == "COMPLETED_SUCCESSFULLY"
