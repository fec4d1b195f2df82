"""CAMPAIGN_CHAT_DAILY_TOKEN_LIMIT: once a user's tasks used that many tokens in the UTC day, new turns
and example runs are refused with 429 `spend_limit_reached` before anything is claimed or stored; the
count survives deleting sessions and covers all of the user's keys. Both engines."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.ids import utcnow
from core.usage import Usage
from store import spend
from store.tables import runs
from tests.conftest import Api, make_key
from tests.support.models import EchoModel

BASE = "/api/campaigns/ai-chat-sessions"
LIMIT = 10  # EchoModel spends 7 tokens a turn: two turns go through, the third is refused


async def run_count(api: Api) -> int:
    async with api.app.state.container.db.read() as conn:
        stmt = sa.select(sa.func.count()).select_from(runs).where(runs.c.user_id == api.user_id)
        return (await conn.execute(stmt)).scalar_one()


async def used_today(api: Api, user_id: str) -> int:
    async with api.app.state.container.db.read() as conn:
        return await conn.run_sync(spend.tokens_on, user_id=user_id, day=utcnow().date())


async def test_turns_stop_at_the_daily_limit_until_midnight_utc(api_factory: Any) -> None:
    api = await api_factory(llm=EchoModel(), daily_token_limit=LIMIT)
    session = await api.create_session()
    keyed = {**api.headers, "Idempotency-Key": "first-turn"}
    first = await api.client.post(f"{BASE}/{session['id']}/turn", json={"message": "one"}, headers=keyed)
    assert first.status_code == 202, first.text
    await api.wait_idle(session["id"])
    assert (await api.turn(session["id"], "two")).status_code == 202  # 7 of 10 used: still under
    await api.wait_idle(session["id"])
    assert await used_today(api, api.user_id) == 14
    runs_before, before = await run_count(api), await api.get_session(session["id"])

    refused = await api.turn(session["id"], "three")
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "spend_limit_reached"
    seconds_to_midnight = 86_400 - (utcnow() - utcnow().replace(hour=0, minute=0, second=0, microsecond=0)).seconds
    assert 1 <= int(refused.headers["Retry-After"]) <= seconds_to_midnight + 1
    await api.client.patch(f"{BASE}/{session['id']}", json={"skeleton": {"hook": "h"}}, headers=api.headers)
    examples = await api.client.post(f"{BASE}/{session['id']}/generate-examples", json={"leads": [{"first_name": "A"}]},
                                     headers={**api.headers, "Idempotency-Key": "examples-over"})
    assert examples.status_code == 429 and examples.json()["code"] == "spend_limit_reached"
    after = await api.get_session(session["id"])
    assert after["task_status"] is None and after["messages"] == before["messages"]  # nothing claimed or stored
    assert await run_count(api) == runs_before
    # A retry of a request that was already dispatched spends nothing: it is still answered.
    replay = await api.client.post(f"{BASE}/{session['id']}/turn", json={"message": "one"}, headers=keyed)
    assert replay.status_code == 202 and replay.json()["runId"] == first.json()["runId"]

    # Deleting the sessions (their runs with them) does not give the spend back; another key of the
    # same user shares the limit; another user has a limit of their own.
    assert (await api.client.delete(f"{BASE}/{session['id']}", headers=api.headers)).status_code == 200
    fresh = await api.create_session()
    assert (await api.turn(fresh["id"], "again")).status_code == 429
    db = api.app.state.container.db
    second_key = await make_key(db, user_id=api.user_id)
    other = await api.client.post(f"{BASE}/{fresh['id']}/turn", json={"message": "again"},
                                  headers={"Authorization": f"Bearer {second_key.key}"})
    assert other.status_code == 429
    stranger = await api.client.post(BASE, json={"campaign_id": fresh["campaign_id"], "node_id": fresh["node_id"]},
                                     headers=api.other_headers)
    accepted = await api.client.post(f"{BASE}/{stranger.json()['session']['id']}/turn", json={"message": "hi"},
                                     headers=api.other_headers)
    assert accepted.status_code == 202, accepted.text


async def test_zero_means_no_limit(api_factory: Any) -> None:
    api = await api_factory(llm=EchoModel(), daily_token_limit=0)
    session = await api.create_session()
    async with api.app.state.container.db.write() as conn:
        await conn.run_sync(spend.add, user_id=api.user_id, day=utcnow().date(),
                        usage=Usage(input_tokens=10**9))
    assert (await api.turn(session["id"], "hi")).status_code == 202
    await api.wait_idle(session["id"])
