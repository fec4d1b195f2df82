"""``POST /api/v2/runs/{id}/cancel`` stops a local turn wherever it is: queued, running here,
running in another process (a worker) or on another API instance."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.realtime.scripted_models import BlockingModel

from core.events import NullReporter
from core.ids import new_run_id, utcnow
from core.payloads import ChatTurnPayload, TurnInput
from jobs.cancel import run_cancellable
from jobs.entry import execute
from jobs.reporter import RunReporter
from jobs.runtime import JobDeps
from store import runs, sessions


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
    async with api.app.state.db.write() as conn:
        assert await sessions.claim(conn, session_id=session_id, user_id=api.user_id, task_status="chatting",
                                    run_id=payload.run_id, now=now, lease_until=now.replace(year=now.year + 1),
                                    require_skeleton=False)
        await runs.insert(conn, run_id=payload.run_id, session_id=session_id, user_id=api.user_id,
                          task="framework-chat-turn", backend="arq", payload={}, tags=[], now=now)
    return payload


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
    deps: JobDeps = api.app.state.bridge._deps
    assert await execute(deps, payload, NullReporter()) is False  # the worker picks it up later: nothing runs
    assert (await run_row(api, payload.run_id))["status"] == "CANCELED"


async def test_a_run_executing_in_a_worker_is_stopped_by_a_cancel_request(api: Any) -> None:
    session = await api.create_session()
    payload = await queue_turn(api, session["id"])
    model = BlockingModel()
    worker_deps = JobDeps(db=api.app.state.db, settings=api.app.state.settings, llm=model)
    job = asyncio.create_task(run_cancellable(worker_deps.db, payload.run_id, execute(
        worker_deps, payload, RunReporter(worker_deps.db, payload.run_id)), poll_seconds=0.05))
    await model.entered.wait()
    response = await api.client.post(f"/api/v2/runs/{payload.run_id}/cancel", headers=api.headers)
    assert response.status_code == 200
    assert await asyncio.wait_for(job, 10) is None
    assert model.abandoned
    assert_canceled(await run_row(api, payload.run_id), await api.get_session(session["id"]), payload.run_id)


async def test_a_worker_shutting_down_interrupts_instead_of_canceling(api: Any) -> None:
    session = await api.create_session()
    payload = await queue_turn(api, session["id"])
    model = BlockingModel()
    deps = JobDeps(db=api.app.state.db, settings=api.app.state.settings, llm=model)
    job = asyncio.create_task(run_cancellable(deps.db, payload.run_id, execute(deps, payload, NullReporter())))
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
