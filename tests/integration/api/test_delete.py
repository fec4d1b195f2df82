"""DELETE of a session erases what its runs stored (the user's message and leads in the payload, the
model's events and output) and the idempotency records that name them; the old public token then
gets, on every realtime route, exactly what a token for a run that never existed gets. Both engines.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from bridge.tokens import mint
from store.tables import idempotency_keys, run_events, runs
from tests.conftest import Api
from tests.support.models import GatedModel

BASE = "/api/campaigns/ai-chat-sessions"
SECRET = "test-public-token-secret-0123456789abcdef"
ENV = "env_campaign_chat_local"
LEAD = {"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stored(api: Api, session_id: str, run_ids: list[str]) -> dict[str, int]:
    """How many rows of each kind still mention the session or its runs (this test's user only)."""
    async with api.app.state.container.db.read() as conn:
        def count(table: Any, *where: Any) -> Any:
            return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))

        return {
            "runs": (await count(runs, runs.c.session_id == session_id)).scalar_one(),
            "events": (await count(run_events, run_events.c.run_id.in_(run_ids))).scalar_one(),
            "idempotency": (await count(idempotency_keys, idempotency_keys.c.user_id == api.user_id)).scalar_one(),
        }


async def realtime_answers(api: Api, run_id: str, token: str) -> list[tuple[int, Any]]:
    """(status, body) of every realtime route for ``run_id`` with ``token``."""
    headers = bearer(token)
    answers = []
    for method, path in (("GET", f"/realtime/v1/runs/{run_id}?offset=-1"),
                         ("GET", f"/realtime/v1/runs/{run_id}?offset=1_1&handle=run-{run_id}&live=true"),
                         ("GET", f"/realtime/v1/streams/{run_id}/chat"),
                         ("GET", f"/api/v3/runs/{run_id}"),
                         ("POST", f"/api/v2/runs/{run_id}/cancel")):
        response = await api.client.request(method, path, headers=headers)
        answers.append((response.status_code, response.json()))
    return answers


async def test_delete_erases_runs_events_and_idempotency_records_and_realtime_forgets_the_run(api: Api) -> None:
    session = await api.create_session()
    sid = session["id"]
    turn = await api.client.post(f"{BASE}/{sid}/turn", json={"message": "Intro for VPs of Sales", "sampleLeads": [LEAD]},
                                 headers={**api.headers, "Idempotency-Key": "delete-me-1"})
    assert turn.status_code == 202, turn.text
    run_id, token = turn.json()["runId"], turn.json()["publicAccessToken"]
    await api.wait_idle(sid)
    before = await stored(api, sid, [run_id])
    assert before["runs"] == 1 and before["events"] > 0 and before["idempotency"] == 1
    assert (await api.client.get(f"/api/v3/runs/{run_id}", headers=bearer(token))).status_code == 200

    deleted = await api.client.delete(f"{BASE}/{sid}", headers=api.headers)
    assert deleted.status_code == 200, deleted.text

    assert await stored(api, sid, [run_id]) == {"runs": 0, "events": 0, "idempotency": 0}
    never = "run_neverexisted0000000000"
    unknown = mint(SECRET, sub=ENV, scopes=[f"read:runs:{never}", f"write:runs:{never}"], ttl_seconds=600)
    expected = await realtime_answers(api, never, unknown)
    assert all(status == 404 for status, _ in expected), expected
    assert await realtime_answers(api, run_id, token) == expected
    # The owner's API key gets nothing either.
    assert (await api.client.get(f"/api/v3/runs/{run_id}", headers=api.headers)).status_code == 404


async def test_an_idempotent_replay_after_delete_is_404(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}/turn"
    headers = {**api.headers, "Idempotency-Key": "replay-after-delete"}
    first = await api.client.post(url, json={"message": "hello"}, headers=headers)
    assert first.status_code == 202, first.text
    await api.wait_idle(session["id"])
    assert (await api.client.delete(f"{BASE}/{session['id']}", headers=api.headers)).status_code == 200

    replay = await api.client.post(url, json={"message": "hello"}, headers=headers)
    assert replay.status_code == 404, replay.text
    assert replay.json()["code"] == "not_found"


async def test_a_replay_of_a_record_that_outlived_its_session_is_404(api: Api) -> None:
    """A dispatch still under way while the session is deleted completes its record afterwards; the
    record must not replay a deleted session's run (here: the record is written back by hand)."""
    session = await api.create_session()
    url = f"{BASE}/{session['id']}/turn"
    headers = {**api.headers, "Idempotency-Key": "outlived"}
    first = await api.client.post(url, json={"message": "hello"}, headers=headers)
    assert first.status_code == 202, first.text
    await api.wait_idle(session["id"])
    db = api.app.state.container.db
    async with db.read() as conn:
        record = dict((await conn.execute(sa.select(idempotency_keys).where(
            idempotency_keys.c.user_id == api.user_id))).one()._mapping)
    assert (await api.client.delete(f"{BASE}/{session['id']}", headers=api.headers)).status_code == 200
    async with db.write() as conn:
        await conn.execute(sa.insert(idempotency_keys).values(**record))

    replay = await api.client.post(url, json={"message": "hello"}, headers=headers)
    assert replay.status_code == 404, replay.text


async def test_a_turn_running_when_its_session_is_deleted_writes_nothing_back(api_factory: Any) -> None:
    model = GatedModel()
    api = await api_factory(llm=model, claim_lease_seconds=3)
    session = await api.create_session()
    turn = await api.turn(session["id"], "Intro for restaurant owners")
    assert turn.status_code == 202, turn.text
    run_id = turn.json()["runId"]
    await asyncio.wait_for(model.entered.wait(), 5)

    assert (await api.client.delete(f"{BASE}/{session['id']}", headers=api.headers)).status_code == 200
    # The model never answers: the heartbeat (every lease/3 = 1 s) finds the claim gone and stops the task.
    bridge = api.app.state.container.bridge
    deadline = asyncio.get_running_loop().time() + 10
    while bridge.running and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert bridge.running == 0
    model.release()
    assert await stored(api, session["id"], [run_id]) == {"runs": 0, "events": 0, "idempotency": 0}
    gone = await api.client.get(f"{BASE}/{session['id']}", headers=api.headers)
    assert gone.status_code == 404
