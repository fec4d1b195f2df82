"""The wire details the SDK depends on (protocol §4–§7), checked on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.models import BlockingModel, CrashingModel

from bridge.tokens import mint

SECRET = "test-public-token-secret-0123456789abcdef"
ENV = "env_campaign_chat_local"
ELECTRIC = ("electric-offset", "electric-handle", "electric-schema")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def finished_turn(api: Any) -> dict[str, Any]:
    session = await api.create_session()
    turn = await api.turn(session["id"])
    assert turn.status_code == 202, turn.text
    await api.wait_idle(session["id"])
    return {"session": session, **turn.json()}


async def test_snapshot_carries_the_electric_headers_and_a_full_taskrun_row(api: Any) -> None:
    turn = await finished_turn(api)
    response = await api.client.get(f"/realtime/v1/runs/{turn['runId']}?log=full&offset=-1",
                                    headers=bearer(turn["publicAccessToken"]))
    assert response.status_code == 200
    for header in ELECTRIC:
        assert response.headers[header]
    assert response.headers["electric-handle"] == f"run-{turn['runId']}"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "*"
    schema = json.loads(response.headers["electric-schema"])
    change, control = response.json()
    assert control == {"headers": {"control": "up-to-date"}}
    assert change["headers"] == {"operation": "insert"}
    row = change["value"]
    assert set(row) == set(schema)
    assert row["friendlyId"] == turn["runId"] and row["status"] == "COMPLETED_SUCCESSFULLY"
    for column in ("createdAt", "updatedAt", "startedAt", "completedAt"):
        assert row[column] and not row[column].endswith("Z") and "+" not in row[column]
    assert json.loads(row["output"])["reply"] and json.loads(row["metadata"])["phase"] == "done"
    assert row["realtimeStreams"] == '{"chat"}'
    assert row["runTags"] == '{"session:' + turn["session"]["id"] + '"}'


async def test_live_poll_without_changes_answers_up_to_date_with_the_same_offset_and_a_cursor(api: Any) -> None:
    turn = await finished_turn(api)
    api.app.state.container.feed.long_poll_seconds = 0.2
    token = bearer(turn["publicAccessToken"])
    snap = await api.client.get(f"/realtime/v1/runs/{turn['runId']}?log=full&offset=-1", headers=token)
    offset, handle = snap.headers["electric-offset"], snap.headers["electric-handle"]
    live = await api.client.get(
        f"/realtime/v1/runs/{turn['runId']}?cursor=&handle={handle}&live=true&log=full&offset={offset}", headers=token)
    assert live.status_code == 200
    assert live.json() == [{"headers": {"control": "up-to-date"}}]
    assert live.headers["electric-offset"] == offset and live.headers["electric-cursor"]


async def test_live_poll_returns_the_full_row_as_soon_as_the_run_changes(api_factory: Any) -> None:
    model = BlockingModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    turn = (await api.turn(session["id"])).json()
    await model.entered.wait()
    token = bearer(turn["publicAccessToken"])
    while True:  # the turn's first events land within one batching interval; then the run is quiet
        snap = await api.client.get(f"/realtime/v1/runs/{turn['runId']}?log=full&offset=-1", headers=token)
        before = snap.json()[0]["value"]
        if before["metadata"] and json.loads(before["metadata"])["phase"] == "thinking":
            break
        await asyncio.sleep(0.02)
    assert before["status"] == "EXECUTING" and before["completedAt"] is None
    url = (f"/realtime/v1/runs/{turn['runId']}?cursor=&handle={snap.headers['electric-handle']}&live=true"
           f"&log=full&offset={snap.headers['electric-offset']}")
    poll = asyncio.ensure_future(api.client.get(url, headers=token))
    await asyncio.sleep(0.1)
    assert not poll.done()  # held open: nothing changed yet
    model.release.set()
    live = await asyncio.wait_for(poll, 10)
    change = live.json()[0]
    assert change["headers"] == {"operation": "update"}
    assert set(change["value"]) == set(before)  # a full row, not a patch
    assert live.headers["electric-offset"] != snap.headers["electric-offset"]
    assert live.headers["electric-cursor"]


async def test_a_failed_turn_is_failed_with_a_taskrunerror(api_factory: Any) -> None:
    api = await api_factory(llm=CrashingModel())
    turn = await finished_turn(api)
    token = bearer(turn["publicAccessToken"])
    row = (await api.client.get(f"/realtime/v1/runs/{turn['runId']}?offset=-1", headers=token)).json()[0]["value"]
    assert row["status"] == "COMPLETED_WITH_ERRORS" and row["completedAt"]
    error = json.loads(row["error"])
    assert error["type"] == "BUILT_IN_ERROR" and "provider returned 500" in error["message"]
    retrieved = (await api.client.get(f"/api/v3/runs/{turn['runId']}", headers=token)).json()
    assert retrieved["status"] == "FAILED" and retrieved["isFailed"] and not retrieved["isSuccess"]
    assert "provider returned 500" in retrieved["error"]["message"]
    assert "output" not in retrieved


async def test_retrieve_omits_what_it_does_not_have_instead_of_sending_null(api_factory: Any) -> None:
    model = BlockingModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    turn = (await api.turn(session["id"])).json()
    await model.entered.wait()
    body = (await api.client.get(f"/api/v3/runs/{turn['runId']}", headers=bearer(turn["publicAccessToken"]))).json()
    model.release.set()
    assert body["status"] == "EXECUTING" and body["isExecuting"]
    assert None not in body.values()
    assert "finishedAt" not in body and "output" not in body and "error" not in body
    await api.wait_idle(session["id"])


async def test_tokens_are_verified(api: Any) -> None:
    turn = await finished_turn(api)
    other = await finished_turn(api)
    url = f"/realtime/v1/runs/{turn['runId']}?offset=-1"
    header, payload, signature = turn["publicAccessToken"].split(".")
    cases = {
        "another run": (other["publicAccessToken"], 403),
        "tampered": (f"{header}.{payload}.{signature[:-2]}AA", 401),
        "expired": (mint(SECRET, sub=ENV, scopes=[f"read:runs:{turn['runId']}"], ttl_seconds=60, now=1_000_000), 401),
        "another environment": (mint(SECRET, sub="env_other", scopes=[f"read:runs:{turn['runId']}"], ttl_seconds=60), 401),
        "another secret": (mint("not-our-secret", sub=ENV, scopes=[f"read:runs:{turn['runId']}"], ttl_seconds=60), 401),
        "a task scope": (mint(SECRET, sub=ENV, scopes=["read:tasks:framework-chat-turn"], ttl_seconds=60), 200),
        "a tag scope": (mint(SECRET, sub=ENV, scopes=[f"read:tags:session:{turn['session']['id']}"], ttl_seconds=60), 200),
    }
    for name, (token, status) in cases.items():
        response = await api.client.get(url, headers=bearer(token))
        assert response.status_code == status, name
        assert response.headers["access-control-allow-origin"] == "*", name
    refused = await api.client.get(url, headers=bearer(other["publicAccessToken"]))
    assert refused.json() == {"error": "Unauthorized", "code": "unauthorized", "param": "access_token",
                              "type": "authorization"}
    missing = await api.client.get("/realtime/v1/runs/run_doesnotexist000000000000?offset=-1",
                                   headers=bearer(turn["publicAccessToken"]))
    assert missing.status_code == 404 and missing.json() == {"error": "Run not found"}


async def test_api_keys_reach_only_their_owners_runs_and_never_count_as_tokens(api: Any) -> None:
    turn = await finished_turn(api)
    url = f"/api/v3/runs/{turn['runId']}"
    assert (await api.client.get(url, headers=api.headers)).status_code == 200
    assert (await api.client.get(url, headers=api.other_headers)).status_code == 404
    forged = mint(api.headers["Authorization"].split()[1], sub=ENV, scopes=["admin"], ttl_seconds=60)
    assert (await api.client.get(url, headers=bearer(forged))).status_code == 401


async def test_a_public_read_token_cannot_cancel(api: Any) -> None:
    turn = await finished_turn(api)
    response = await api.client.post(f"/api/v2/runs/{turn['runId']}/cancel", headers=bearer(turn["publicAccessToken"]))
    assert response.status_code == 403


async def test_preflight_echoes_the_requested_headers_on_every_route(api: Any) -> None:
    asked = "authorization, trigger-version, x-trigger-api-version, x-trigger-electric-version"
    for path in ("/realtime/v1/runs/run_x", "/realtime/v1/streams/run_x/chat", "/api/v3/runs/run_x",
                 "/api/v2/runs/run_x/cancel"):
        response = await api.client.options(path, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                                                            "Access-Control-Request-Headers": asked})
        assert response.status_code == 200, path
        assert response.headers["access-control-allow-headers"] == asked
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert "GET" in response.headers["access-control-allow-methods"]


async def test_stream_replays_events_resumes_after_last_event_id_and_closes_when_done(api: Any) -> None:
    turn = await finished_turn(api)
    token = bearer(turn["publicAccessToken"])
    url = f"/realtime/v1/streams/{turn['runId']}/chat"
    full = await api.client.get(url, headers=token)
    assert full.status_code == 200 and full.headers["content-type"].startswith("text/event-stream")
    assert full.headers["access-control-allow-origin"] == "*"
    frames = [f for f in full.text.split("\n\n") if f.startswith("id: ")]
    events = [json.loads(f.split("data: ", 1)[1]) for f in frames]
    assert events[0] == {"type": "phase", "phase": "thinking"} and events[-1]["type"] == "done"
    third_id = frames[2].split("\n")[0].removeprefix("id: ")
    resumed = await api.client.get(url, headers={**token, "Last-Event-ID": third_id})
    rest = [json.loads(f.split("data: ", 1)[1]) for f in resumed.text.split("\n\n") if f.startswith("id: ")]
    assert rest == events[3:]
    other_key = await api.client.get(f"/realtime/v1/streams/{turn['runId']}/llm", headers=token)
    assert other_key.status_code == 200 and "data:" not in other_key.text


async def test_skip_columns_drops_them_from_the_row_and_the_schema_but_never_the_reserved_ones(api: Any) -> None:
    turn = await finished_turn(api)
    response = await api.client.get(f"/realtime/v1/runs/{turn['runId']}?offset=-1&skipColumns=payload,output,status",
                                    headers=bearer(turn["publicAccessToken"]))
    row = response.json()[0]["value"]
    schema = json.loads(response.headers["electric-schema"])
    assert "payload" not in row and "output" not in row and "payload" not in schema and "output" not in schema
    assert row["status"] == "COMPLETED_SUCCESSFULLY" and "status" in schema


async def test_a_handle_we_never_issued_gets_must_refetch_with_the_real_handle(api: Any) -> None:
    turn = await finished_turn(api)
    response = await api.client.get(
        f"/realtime/v1/runs/{turn['runId']}?handle=run-stale&live=true&offset=1_1&cursor=",
        headers=bearer(turn["publicAccessToken"]))
    assert response.status_code == 409
    assert response.json() == [{"headers": {"control": "must-refetch"}}]
    assert response.headers["electric-handle"] == f"run-{turn['runId']}"


async def test_a_last_event_id_past_any_sequence_number_is_400_at_once(api: Any) -> None:
    """``1-9223372036854775808`` used to reach the query: PostgreSQL refused it after the 200 had started,
    cutting the stream. Anything but ``<ms>-<seq>`` in ASCII digits within the column's range is 400."""
    turn = await finished_turn(api)
    url = f"/realtime/v1/streams/{turn['runId']}/chat"
    token = bearer(turn["publicAccessToken"])
    for bad in ("1-9223372036854775808", "1-2147483648", "1-1_0", "1-\u0661".encode(), "1- 2", "-1", "1-", "x"):
        response = await api.client.get(url, headers={**token, "Last-Event-ID": bad}, timeout=5)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["code"] == "invalid_parameter" and response.json()["param"] == "Last-Event-ID"
        assert response.headers["access-control-allow-origin"] == "*"
    edge = await api.client.get(url, headers={**token, "Last-Event-ID": "1-2147483647"}, timeout=5)
    assert edge.status_code == 200 and "data:" not in edge.text  # in range: nothing after it


async def test_malformed_shape_parameters_are_400_at_once_not_a_long_poll(api: Any) -> None:
    """``offset=1_é_999`` used to be read as version 999: a 20 s long-poll, then 200."""
    turn = await finished_turn(api)
    token = bearer(turn["publicAccessToken"])
    url = f"/realtime/v1/runs/{turn['runId']}"
    handle = f"run-{turn['runId']}"
    cases = [
        ("offset", f"?cursor=&handle={handle}&live=true&offset=1_%C3%A9_999"),
        ("offset", f"?handle={handle}&live=true&offset=1_1_0"),
        ("offset", f"?handle={handle}&live=true&offset=1_9999999999"),
        ("offset", f"?handle={handle}&live=true&offset=1_%D9%A1"),
        ("offset", f"?handle={handle}&live=true&offset=%201_1"),
        ("offset", "?offset=abc"),
        ("handle", "?handle=run%20x&live=true&offset=1_1"),
        ("handle", "?handle=run-%C3%A9&offset=-1"),
        ("expired_handle", "?expired_handle=%00&offset=-1"),
        ("cursor", f"?cursor=%C3%A9&handle={handle}&live=true&offset=1_1"),
        ("live", "?live=yes&offset=-1"),
    ]
    for param, query in cases:
        response = await api.client.get(url + query, headers=token, timeout=5)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["param"] == param and response.json()["code"] == "invalid_parameter", query


async def test_malformed_run_ids_and_stream_keys_are_400_on_every_realtime_route(api: Any) -> None:
    turn = await finished_turn(api)
    token = bearer(turn["publicAccessToken"])
    for method, path in [("GET", "/realtime/v1/runs/run_%C3%A9?offset=-1"), ("GET", "/realtime/v1/streams/run_%C3%A9/chat"),
                         ("GET", f"/realtime/v1/streams/{turn['runId']}/ch%20at"), ("GET", "/api/v3/runs/run%2Bx"),
                         ("POST", "/api/v2/runs/" + "r" * 200 + "/cancel")]:
        response = await api.client.request(method, path, headers=token, timeout=5)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == "invalid_parameter"


async def test_one_token_holds_a_bounded_number_of_realtime_requests_at_once(api_factory: Any) -> None:
    model = BlockingModel()
    api = await api_factory(llm=model, realtime_connections_per_token=2)
    session = await api.create_session()
    turn = (await api.turn(session["id"])).json()
    await model.entered.wait()
    raw_token = turn["publicAccessToken"]
    token = bearer(raw_token)
    slots = api.app.state.container.feed.slots
    snap = await api.client.get(f"/realtime/v1/runs/{turn['runId']}?offset=-1", headers=token)
    live = (f"/realtime/v1/runs/{turn['runId']}?cursor=&handle={snap.headers['electric-handle']}&live=true"
            f"&offset={snap.headers['electric-offset']}")
    # A long-poll and the chat stream of the running turn: both stay open while it runs.
    held = [asyncio.ensure_future(api.client.get(live, headers=token, timeout=60)),
            asyncio.ensure_future(api.client.get(f"/realtime/v1/streams/{turn['runId']}/chat", headers=token, timeout=60))]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while slots.held(raw_token) < 2:
        assert loop.time() < deadline, "the two requests never held their places"
        await asyncio.sleep(0.01)
    for method, path in [("GET", f"/realtime/v1/runs/{turn['runId']}?offset=-1"),
                         ("GET", f"/realtime/v1/streams/{turn['runId']}/chat")]:
        refused = await api.client.request(method, path, headers=token)
        assert refused.status_code == 429, refused.text
        assert refused.json() == {"error": "Too many concurrent requests", "code": "realtime_connection_limit"}
        assert refused.headers["retry-after"] == "1" and refused.headers["access-control-allow-origin"] == "*"
    # The owner's API key is another credential: not affected.
    assert (await api.client.get(f"/api/v3/runs/{turn['runId']}", headers=api.headers)).status_code == 200
    assert (await api.client.get(f"/realtime/v1/runs/{turn['runId']}?offset=-1", headers=api.headers)).status_code == 200
    for request in held:  # the clients go away: their places are free again
        request.cancel()
    await asyncio.gather(*held, return_exceptions=True)
    deadline = loop.time() + 10
    while slots.held(raw_token):
        assert loop.time() < deadline, "places were not released when their requests ended"
        await asyncio.sleep(0.01)
    assert (await api.client.get(f"/realtime/v1/runs/{turn['runId']}?offset=-1", headers=token)).status_code == 200
    model.release.set()
    await api.wait_idle(session["id"])
