"""``POST /api/v2/runs/{id}/cancel`` stops a local turn wherever it is: queued, running here,
running where the API cannot reach it (the cancel request its heartbeat reads), or on another API
instance. A real ARQ worker is cancelled through the API in tests/realtime/test_realtime_sdk.py."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.support.models import BlockingModel

from dataclasses import replace

from core.ids import new_run_id, utcnow
from core.payloads import ChatTurnPayload, TurnInput
from jobs.execute import execute
from jobs.guard import JobDeps
from store import runs, sessions
from store.db import ROW_LOCK_WAIT_MS


async def run_row(api: Any, run_id: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else api.headers
    response = await api.client.get(f"/realtime/v1/runs/{run_id}?offset=-1", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()[0]["value"]


async def queue_turn(api: Any, session_id: str) -> ChatTurnPayload:
    """Claim the session and record a PENDING run exactly as dispatch does, as if it sat in a queue."""
    payload = ChatTurnPayload(run_id=new_run_id(), session_id=session_id, user_id=api.user_id,
                              input=TurnInput(message="hello"))
    now = utcnow()
    claim = sessions.ClaimRequest(session_id=session_id, user_id=api.user_id, task_status="chat_processing",
                                  run_id=payload.run_id, now=now, lease_until=now.replace(year=now.year + 1),
                                  require_skeleton=False)
    values = runs.new_run_values(run_id=payload.run_id, session_id=session_id, user_id=api.user_id,
                                 task="framework-chat-turn", backend="arq", payload={}, tags=[], now=now)
    assert (await sessions.claim_and_record(api.app.state.container.db, claim, values)).won
    return payload


def worker_deps(api: Any, model: Any, **settings: Any) -> JobDeps:
    """What a worker process builds: its own deps on the same database (no wake-ups back to the API)."""
    container = api.app.state.container
    return JobDeps(db=container.db, settings=replace(container.settings, **settings), llm=model)


def assert_canceled(row: dict[str, Any], session: dict[str, Any], run_id: str) -> None:
    assert row["status"] == "CANCELED" and row["completedAt"]
    assert json.loads(row["error"])["type"] == "BUILT_IN_ERROR"
    assert session["task_status"] is None and session["run_id"] is None
    assert session["last_run"]["id"] == run_id and session["last_run"]["status"] == "canceled"


async def test_cancel_abandons_the_model_call_of_a_running_turn(api_factory: Any) -> None:
    model = BlockingModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    turn = (await api.turn(session["id"])).json()
    await model.entered.wait()
    response = await api.client.post(f"/api/v2/runs/{turn['runId']}/cancel", headers=api.headers)
    assert response.status_code == 200 and response.json() == {"id": turn["runId"]}
    assert model.abandoned
    after = await api.get_session(session["id"])
    assert_canceled(await run_row(api, turn["runId"]), after, turn["runId"])
    assert [m["role"] for m in after["messages"]] == ["user"]
    again = await api.client.post(f"/api/v2/runs/{turn['runId']}/cancel", headers=api.headers)
    assert again.status_code == 200 and again.json() == {"id": turn["runId"]}  # already finished: still 200


async def test_a_queued_run_is_canceled_and_never_starts(api: Any) -> None:
    session = await api.create_session()
    payload = await queue_turn(api, session["id"])
    response = await api.client.post(f"/api/v2/runs/{payload.run_id}/cancel", headers=api.headers)
    assert response.status_code == 200
    assert_canceled(await run_row(api, payload.run_id), await api.get_session(session["id"]), payload.run_id)
    later = await execute(worker_deps(api, BlockingModel()), payload)  # a worker picks it up later: nothing runs
    assert not later.ran and later.status == "CANCELED"
    assert (await run_row(api, payload.run_id))["status"] == "CANCELED"


async def test_a_run_the_api_cannot_reach_is_stopped_by_the_cancel_request_its_heartbeat_reads(api: Any) -> None:
    session = await api.create_session()
    payload = await queue_turn(api, session["id"])
    model = BlockingModel()
    # An executor this API instance has no handle on; its heartbeat beats every third of a 1.5 s lease.
    job = asyncio.create_task(execute(worker_deps(api, model, claim_lease_seconds=1.5), payload))
    await model.entered.wait()
    response = await api.client.post(f"/api/v2/runs/{payload.run_id}/cancel", headers=api.headers)
    assert response.status_code == 200
    assert (await asyncio.wait_for(job, 10)).status == "CANCELED"
    assert model.abandoned
    assert_canceled(await run_row(api, payload.run_id), await api.get_session(session["id"]), payload.run_id)


async def test_a_worker_shutting_down_interrupts_instead_of_canceling(api: Any) -> None:
    session = await api.create_session()
    payload = await queue_turn(api, session["id"])
    model = BlockingModel()
    job = asyncio.create_task(execute(worker_deps(api, model), payload))
    await model.entered.wait()
    job.cancel()
    await asyncio.gather(job, return_exceptions=True)
    assert job.cancelled()
    row = await run_row(api, payload.run_id)
    assert row["status"] == "INTERRUPTED" and row["completedAt"]
    assert (await api.get_session(session["id"]))["task_status"] is None


async def test_cancel_on_another_instance_stops_the_turn_running_here(pg_api_factory: Any) -> None:
    model = BlockingModel()
    here = await pg_api_factory(llm=model)
    elsewhere = await pg_api_factory()
    session = await here.create_session()
    turn = (await here.turn(session["id"])).json()
    await model.entered.wait()
    response = await elsewhere.client.post(f"/api/v2/runs/{turn['runId']}/cancel", headers=here.headers)
    assert response.status_code == 200
    await asyncio.wait_for(here.wait_idle(session["id"]), 10)
    assert model.abandoned
    assert_canceled(await run_row(here, turn["runId"]), await here.get_session(session["id"]), turn["runId"])


@pytest.mark.parametrize("state", ["queued", "executing"])
async def test_cancel_of_a_run_whose_row_a_stalled_transaction_holds_is_refused_at_once_then_retried(
        pg_api_factory: Any, state: str) -> None:
    """A worker frozen inside its transaction keeps the run's row locked for up to a lease: cancel waits
    ROW_LOCK_WAIT_MS for it, answers 409 run_busy (which the SDK retries), keeps nothing, and a retry once
    the row is free cancels the run."""
    api = await pg_api_factory()
    session = await api.create_session()
    payload = await queue_turn(api, session["id"])
    db = api.app.state.container.db
    if state == "executing":  # started by an executor this API instance has no handle on
        assert await db.run(runs.start, payload.run_id, now=utcnow())
    url = f"/api/v2/runs/{payload.run_id}/cancel"
    holder = await db.engine.connect()
    try:
        await holder.begin()
        await holder.exec_driver_sql("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", (payload.run_id,))
        began = time.monotonic()
        refused = await api.client.post(url, headers=api.headers)
        waited = time.monotonic() - began
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "run_busy"
        assert refused.headers["x-should-retry"] == "true" and refused.headers["retry-after"] == "1"
        assert waited < ROW_LOCK_WAIT_MS / 1000 + 2, waited
        row = await run_row(api, payload.run_id)
        assert row["status"] == ("PENDING" if state == "queued" else "EXECUTING"), row["status"]
        assert not await db.run_read(runs.cancel_requested, payload.run_id)  # nothing kept of the refused one
    finally:
        await holder.close()
    retried = await api.client.post(url, headers=api.headers)
    assert retried.status_code == 200 and retried.json() == {"id": payload.run_id}
    if state == "queued":
        assert_canceled(await run_row(api, payload.run_id), await api.get_session(session["id"]), payload.run_id)
    else:
        assert await db.run_read(runs.cancel_requested, payload.run_id)
