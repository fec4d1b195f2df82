"""Idempotency-Key on the dispatch endpoints, as a client retrying over a flaky network relies on it.

On SQLite and PostgreSQL: a retry replays the first answer and starts nothing; another body under
the same key is 422; a failed dispatch leaves the key free; keys expire; scopes are independent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from bridge.tokens import verify
from core.ids import utcnow
from store.tables import idempotency_keys, runs
from tests.conftest import Api
from tests.support.models import GatedModel

BASE = "/api/campaigns/ai-chat-sessions"
SECRET = "test-public-token-secret-0123456789abcdef"


def keyed(api: Api, key: str) -> dict[str, str]:
    return {**api.headers, "Idempotency-Key": key}


async def post_turn(api: Api, session_id: str, key: str, message: str = "Write an intro email") -> Any:
    return await api.client.post(f"{BASE}/{session_id}/turn", json={"message": message}, headers=keyed(api, key))


async def runs_of(api: Api, session_id: str) -> list[str]:
    async with api.app.state.container.db.read() as conn:
        return [r[0] for r in await conn.execute(sa.select(runs.c.id).where(runs.c.session_id == session_id))]


async def records(api: Api) -> int:
    """This test user's idempotency records (the PostgreSQL database is shared by the whole run)."""
    async with api.app.state.container.db.read() as conn:
        stmt = sa.select(sa.func.count()).select_from(idempotency_keys).where(idempotency_keys.c.user_id == api.user_id)
        return (await conn.execute(stmt)).scalar_one()


async def test_a_retry_while_the_run_still_holds_the_session_replays_the_first_answer(api_factory: Any) -> None:
    model = GatedModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    first = await post_turn(api, session["id"], "retry-1")
    assert first.status_code == 202, first.text
    await asyncio.wait_for(model.entered.wait(), 5)

    again = await post_turn(api, session["id"], "retry-1")
    assert again.status_code == 202, again.text  # not 409: the retry is the same request
    assert again.json()["runId"] == first.json()["runId"]
    claims = verify(again.json()["publicAccessToken"], SECRET)
    assert claims.scopes == (f"read:runs:{first.json()['runId']}",)
    assert (await api.turn(session["id"], "a new turn")).json()["code"] == "session_busy"  # no key: still busy

    model.release()
    done = await api.wait_idle(session["id"])
    assert await runs_of(api, session["id"]) == [first.json()["runId"]]
    assert [m["content"] for m in done["messages"]] == ["Write an intro email", "ok: Write an intro email"]
    after = await post_turn(api, session["id"], "retry-1")  # the run finished: the key still replays it
    assert after.status_code == 202 and after.json()["runId"] == first.json()["runId"]
    assert len(model.calls) == 1


async def test_the_same_key_with_another_body_is_refused_and_starts_nothing(api: Api) -> None:
    session = await api.create_session()
    first = await post_turn(api, session["id"], "k", "first message")
    assert first.status_code == 202
    await api.wait_idle(session["id"])
    reused = await post_turn(api, session["id"], "k", "a different message")
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert await runs_of(api, session["id"]) == [first.json()["runId"]]
    assert len((await api.get_session(session["id"]))["messages"]) == 2


async def test_an_equivalent_body_counts_as_the_same_request(api: Api) -> None:
    session = await api.create_session()
    first = await api.client.post(f"{BASE}/{session['id']}/turn", headers={**keyed(api, "eq"), "Content-Type": "application/json"},
                                  content=json.dumps({"message": "hi", "availableVarNames": ["first_name"]}))
    second = await api.client.post(f"{BASE}/{session['id']}/turn", headers={**keyed(api, "eq"), "Content-Type": "application/json"},
                                   content=b'{ "availableVarNames":["first_name"], "sampleLeads": null, "message":"hi" }')
    assert first.status_code == second.status_code == 202, second.text
    assert first.json()["runId"] == second.json()["runId"]


async def test_keys_are_scoped_to_the_user_the_endpoint_and_the_session(api: Api) -> None:
    one, two = await api.create_session(), await api.create_session()
    a = await post_turn(api, one["id"], "shared")
    b = await post_turn(api, two["id"], "shared")
    assert a.status_code == b.status_code == 202 and a.json()["runId"] != b.json()["runId"]
    await api.wait_idle(one["id"])
    await api.client.patch(f"{BASE}/{one['id']}", json={"skeleton": {"hook": "h"}}, headers=api.headers)
    examples = await api.client.post(f"{BASE}/{one['id']}/generate-examples", json={"leads": [{"first_name": "A"}]},
                                     headers=keyed(api, "shared"))
    assert examples.status_code == 202 and examples.json()["runId"] != a.json()["runId"]
    stranger = await api.client.post(f"{BASE}/{one['id']}/turn", json={"message": "Write an intro email"},
                                     headers={**api.other_headers, "Idempotency-Key": "shared"})
    assert stranger.status_code == 404  # another user's key never replays this user's run


async def test_simultaneous_requests_with_one_key_dispatch_exactly_once(api_factory: Any) -> None:
    model = GatedModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    responses = await asyncio.gather(*(post_turn(api, session["id"], "burst") for _ in range(20)))
    accepted = [r for r in responses if r.status_code == 202]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(accepted) + len(in_progress) == 20, [r.text for r in responses]
    assert accepted and {r.json()["runId"] for r in accepted} == set(await runs_of(api, session["id"]))
    assert all(r.json()["code"] == "idempotency_in_progress" and r.headers["retry-after"] == "1" for r in in_progress)
    model.release()
    await api.wait_idle(session["id"])
    assert len(await runs_of(api, session["id"])) == 1 and len(model.calls) == 1


async def test_expired_keys_may_be_used_again(api: Api) -> None:
    session = await api.create_session()
    first = await post_turn(api, session["id"], "old", "first")
    await api.wait_idle(session["id"])
    async with api.app.state.container.db.write() as conn:  # the TTL has passed
        await conn.execute(sa.update(idempotency_keys).values(expires_at=utcnow()))
    fresh = await post_turn(api, session["id"], "old", "another request entirely")
    assert fresh.status_code == 202 and fresh.json()["runId"] != first.json()["runId"]
    await api.wait_idle(session["id"])
    async with api.app.state.container.db.write() as conn:
        await conn.execute(sa.update(idempotency_keys).values(expires_at=utcnow()))
    await api.app.state.container.reaper.sweep()  # the periodic sweep deletes expired records
    assert await records(api) == 0


async def test_without_the_header_nothing_is_recorded(api: Api) -> None:
    session = await api.create_session()
    assert (await api.turn(session["id"])).status_code == 202
    await api.wait_idle(session["id"])
    assert await records(api) == 0


@pytest.mark.parametrize("value", ["", "x" * 256, "has space", "tab\tkey", "caf\u00e9".encode()])
async def test_a_malformed_key_is_400_naming_the_header(api: Api, value: str | bytes) -> None:
    session = await api.create_session()
    response = await api.client.post(f"{BASE}/{session['id']}/turn", json={"message": "hi"},
                                     headers={**api.headers, "Idempotency-Key": value})
    assert response.status_code == 400
    assert response.json()["field"] == "Idempotency-Key"
    assert (await api.get_session(session["id"]))["task_status"] is None


class FlakyTrigger:
    """Trigger.dev at the HTTP boundary: refuses the first trigger (400), accepts the rest."""

    def __init__(self) -> None:
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls += 1
                if outer.calls == 1:
                    body, status, headers = b'{"error":"Invalid payload"}', 400, {}
                else:
                    run_id = f"run_trig{outer.calls:020d}"
                    body, status = json.dumps({"id": run_id}).encode(), 200
                    headers = {"x-trigger-jwt-claims": json.dumps({"sub": "env_trig", "pub": True})}
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def flaky_trigger() -> Iterator[FlakyTrigger]:
    trigger = FlakyTrigger()
    thread = threading.Thread(target=trigger.server.serve_forever, daemon=True)
    thread.start()
    yield trigger
    trigger.server.shutdown()
    trigger.server.server_close()


async def test_a_failed_dispatch_leaves_the_key_free_for_the_retry(api_factory: Any, flaky_trigger: FlakyTrigger) -> None:
    secret = "tr_dev_" + uuid.uuid4().hex
    api = await api_factory(task_backend="trigger", trigger_secret_key=secret, trigger_api_url=flaky_trigger.url)
    session = await api.create_session()
    failed = await post_turn(api, session["id"], "after-500")
    assert failed.status_code == 500 and failed.json()["code"] == "dispatch_failed"
    assert await records(api) == 0
    retried = await post_turn(api, session["id"], "after-500")
    assert retried.status_code == 202, retried.text
    replayed = await post_turn(api, session["id"], "after-500")
    assert replayed.json()["runId"] == retried.json()["runId"] == "run_trig00000000000000000002"
    assert flaky_trigger.calls == 2  # the replay did not trigger again
    # Under Trigger.dev the replay's token is re-signed with the secret key, for the same run.
    claims = verify(replayed.json()["publicAccessToken"], secret)
    assert claims.sub == "env_trig" and claims.scopes == ("read:runs:run_trig00000000000000000002",)
    # Nothing runs the triggered turn here: free the session as its owner can, so no claim outlives the test.
    await api.client.patch(f"{BASE}/{session['id']}", json={"task_status": None}, headers=api.headers)
