"""The sessions API as a client sees it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from bridge.tokens import verify
from tests.conftest import Api
from tests.support.models import FailingModel, GatedModel

BASE = "/api/campaigns/ai-chat-sessions"


async def test_create_returns_an_empty_session_owned_by_the_caller(api: Api) -> None:
    campaign, node = str(uuid.uuid4()), str(uuid.uuid4())
    session = await api.create_session(campaign_id=campaign, node_id=node)
    assert session["user_id"] == api.user_id
    assert (session["campaign_id"], session["node_id"]) == (campaign, node)
    for field in ("title", "messages", "draft_subject", "draft_body", "skeleton", "skeleton_history",
                  "draft_history", "framework_version", "generated_examples", "task_status", "run_id", "last_run"):
        assert session[field] is None, field
    assert session["created_at"] == session["updated_at"]


async def test_list_returns_the_callers_sessions_for_one_campaign_oldest_first(api: Api) -> None:
    campaign = str(uuid.uuid4())
    first = await api.create_session(campaign_id=campaign)
    second = await api.create_session(campaign_id=campaign)
    await api.create_session()  # another campaign
    response = await api.client.get(BASE, params={"campaign_id": campaign}, headers=api.headers)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["sessions"]] == [first["id"], second["id"]]
    foreign = await api.client.get(BASE, params={"campaign_id": campaign}, headers=api.other_headers)
    assert foreign.json() == {"sessions": [], "next_cursor": None}


async def test_ids_are_case_insensitive(api: Api) -> None:
    """The contract's UUID pattern admits A-F: an id in upper case names the same session or campaign."""
    campaign = str(uuid.uuid4())
    session = await api.create_session(campaign_id=campaign.upper(), node_id=str(uuid.uuid4()).upper())
    assert session["campaign_id"] == campaign and session["node_id"] == session["node_id"].lower()
    url = f"{BASE}/{session['id'].upper()}"
    fetched = await api.client.get(url, headers=api.headers)
    assert fetched.status_code == 200 and fetched.json()["session"]["id"] == session["id"]
    patched = await api.client.patch(url, json={"title": "upper"}, headers=api.headers)
    assert patched.status_code == 200 and patched.json()["session"]["title"] == "upper"
    turn = await api.client.post(f"{url}/turn", json={"message": "hi"}, headers=api.headers)
    assert turn.status_code == 202, turn.text
    await api.wait_idle(session["id"])
    for spelling in (campaign, campaign.upper()):
        listed = await api.client.get(BASE, params={"campaign_id": spelling}, headers=api.headers)
        assert [s["id"] for s in listed.json()["sessions"]] == [session["id"]], spelling
    assert (await api.client.delete(url, headers=api.headers)).status_code == 200
    assert (await api.client.get(f"{BASE}/{session['id']}", headers=api.headers)).status_code == 404


async def test_patch_writes_only_the_keys_present(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    response = await api.client.patch(url, json={"title": "Intro to VPs", "draft_subject": "Hi %first_name%"},
                                      headers=api.headers)
    assert response.status_code == 200
    row = response.json()["session"]
    assert (row["title"], row["draft_subject"], row["draft_body"]) == ("Intro to VPs", "Hi %first_name%", None)
    again = await api.client.patch(url, json={"draft_body": "Body"}, headers=api.headers)
    assert again.json()["session"]["title"] == "Intro to VPs"


async def test_changing_the_skeleton_clears_generated_examples(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    await api.client.patch(url, json={"skeleton": {"hook": "a"}, "generated_examples": [{"lead_id": "1"}]},
                           headers=api.headers)
    row = (await api.client.patch(url, json={"skeleton": {"hook": "b"}}, headers=api.headers)).json()["session"]
    assert row["skeleton"] == {"hook": "b"} and row["generated_examples"] is None


async def test_delete_removes_the_session(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    assert (await api.client.delete(url, headers=api.headers)).json() == {"success": True}
    assert (await api.client.get(url, headers=api.headers)).status_code == 404
    assert (await api.client.delete(url, headers=api.headers)).status_code == 404


async def test_another_users_session_is_not_found_on_every_verb(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    h = api.other_headers
    calls = [
        api.client.get(url, headers=h),
        api.client.patch(url, json={"title": "mine now"}, headers=h),
        api.client.delete(url, headers=h),
        api.client.post(f"{url}/turn", json={"message": "hi"}, headers=h),
        api.client.post(f"{url}/generate-examples", json={"leads": [{"first_name": "A"}]}, headers=h),
    ]
    for response in await asyncio.gather(*calls):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    untouched = await api.get_session(session["id"])
    assert untouched["title"] is None and untouched["messages"] is None


async def test_every_route_but_health_needs_a_valid_key(api: Api) -> None:
    assert (await api.client.get("/health")).status_code == 200
    sid = str(uuid.uuid4())
    for headers in ({}, {"Authorization": "Bearer cc_live_wrong"}, {"Authorization": "Basic abc"}):
        for method, url, body in (
            ("GET", f"{BASE}?campaign_id={sid}", None),
            ("POST", BASE, {"campaign_id": sid, "node_id": sid}),
            ("GET", f"{BASE}/{sid}", None),
            ("POST", f"{BASE}/{sid}/turn", {"message": "hi"}),
        ):
            response = await api.client.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, url, headers)
            assert response.json()["code"] == "unauthorized"


async def test_bad_input_is_400_naming_the_field_and_changes_nothing(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}/turn"
    cases: list[tuple[Any, str | None]] = [
        ({"message": ""}, "message"),
        ({}, None),
        ({"message": "x" * 8001}, "message"),
        ({"message": "hi", "availableVarNames": ["not valid!"]}, "availableVarNames[0]"),
        ({"message": "hi", "sequenceContext": {"position": -1}}, "sequenceContext.position"),
        ({"message": "hi", "surprise": True}, "surprise"),
        ({"message": "hi", "sampleLeads": [{"first_name": 5}]}, "sampleLeads[0].first_name"),
    ]
    for body, field in cases:
        response = await api.client.post(url, json=body, headers=api.headers)
        assert response.status_code == 400, body
        error = response.json()
        assert error["code"] == "validation_error" and error["error"]
        if field:
            assert error["field"] == field, error
    not_json = await api.client.post(url, content=b"{nope", headers={**api.headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["code"] == "invalid_json"
    form = await api.client.post(url, content=b"message=hi", headers={**api.headers, "Content-Type": "text/plain"})
    assert form.status_code == 415 and form.json()["code"] == "unsupported_media_type"
    bad_id = await api.client.get(f"{BASE}/not-a-uuid", headers=api.headers)
    assert bad_id.status_code == 400 and bad_id.json()["field"] == "id"
    missing = await api.client.get(BASE, headers=api.headers)
    assert missing.status_code == 400 and missing.json()["field"] == "campaign_id"
    assert (await api.get_session(session["id"]))["messages"] is None


async def test_oversized_bodies_are_413(api_factory: Any) -> None:
    api = await api_factory(max_body_bytes=2048)
    session = await api.create_session()
    response = await api.turn(session["id"], "x" * 4000)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


async def test_a_turn_runs_end_to_end_on_the_embedded_default(api: Api) -> None:
    session = await api.create_session()
    response = await api.turn(session["id"], "Write an intro email for VPs of Sales", availableVarNames=["first_name", "company"])
    assert response.status_code == 202
    dispatched = response.json()
    assert dispatched["runId"].startswith("run_")
    claims = verify(dispatched["publicAccessToken"], api.app.state.container.signer.secret)
    assert claims.scopes == (f"read:runs:{dispatched['runId']}",)
    first = await api.wait_idle(session["id"])
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["last_run"]["id"] == dispatched["runId"] and first["last_run"]["status"] == "succeeded"
    assert first["skeleton"] is None  # the first turn asks clarifying questions
    await api.turn(session["id"], "VPs of Sales at SaaS companies; offer: 15 minutes to ROI; CTA: a call")
    second = await api.wait_idle(session["id"])
    assert second["framework_version"] == 1 and second["skeleton"] is not None
    assert second["draft_subject"] and second["usage"]["requests"] == 2


async def test_a_busy_session_answers_409_with_the_run_to_follow(api_factory: Any) -> None:
    model = GatedModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    first = await api.turn(session["id"], "one")
    assert first.status_code == 202
    await asyncio.wait_for(model.entered.wait(), 5)
    busy = await api.turn(session["id"], "two")
    assert busy.status_code == 409
    body = busy.json()
    assert body["code"] == "session_busy" and body["task_status"] == "chat_processing"
    assert body["run_id"] == first.json()["runId"] and busy.headers["retry-after"]
    examples = await api.client.post(f"{BASE}/{session['id']}/generate-examples", json={"leads": [{"first_name": "A"}]},
                                     headers=api.headers)
    assert examples.status_code in (400, 409)  # no skeleton yet, and busy: either way nothing is dispatched
    during = await api.get_session(session["id"])
    assert during["messages"] == [{"role": "user", "content": "one"}]  # stored before the model answered
    model.release()
    done = await api.wait_idle(session["id"])
    assert [m["content"] for m in done["messages"]] == ["one", "ok: one"]


async def test_fifty_simultaneous_turns_dispatch_exactly_once(api_factory: Any) -> None:
    model = GatedModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    responses = await asyncio.gather(*(api.turn(session["id"], f"m{i}") for i in range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(202) == 1 and statuses.count(409) == 49, statuses
    winner = next(r for r in responses if r.status_code == 202).json()["runId"]
    assert {r.json()["run_id"] for r in responses if r.status_code == 409} == {winner}
    model.release()
    done = await api.wait_idle(session["id"])
    assert len(done["messages"]) == 2


async def test_generate_examples_needs_a_skeleton(api: Api) -> None:
    session = await api.create_session()
    response = await api.client.post(f"{BASE}/{session['id']}/generate-examples", json={"leads": [{"first_name": "A"}]},
                                     headers=api.headers)
    assert response.status_code == 400
    assert response.json() == {"error": "Session has no framework yet. Chat first to create one.", "code": "no_framework"}
    assert (await api.get_session(session["id"]))["task_status"] is None


async def test_examples_are_written_per_lead_from_the_skeleton(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    await api.client.patch(url, json={"skeleton": {"hook": "h", "value_prop": "v"}}, headers=api.headers)
    leads = [{"first_name": "Ada", "last_name": "Lovelace", "company": "Engines"}, {"id": "p2", "first_name": "Alan"}]
    response = await api.client.post(f"{url}/generate-examples", json={"leads": leads, "isFirstBatch": True},
                                     headers=api.headers)
    assert response.status_code == 202
    done = await api.wait_idle(session["id"])
    examples = done["generated_examples"]
    assert [(e["first_name"], e["status"]) for e in examples] == [("Ada", "ok"), ("Alan", "ok")]
    assert examples[1]["lead_id"] == "p2" and examples[0]["lead_id"].startswith("lead_")
    await api.client.post(f"{url}/generate-examples", json={"leads": leads[:1]}, headers=api.headers)
    appended = await api.wait_idle(session["id"])
    assert len(appended["generated_examples"]) == 3


async def test_a_failed_turn_keeps_the_transcript_and_says_why(api_factory: Any) -> None:
    api = await api_factory(llm=FailingModel())
    session = await api.create_session()
    assert (await api.turn(session["id"], "hello")).status_code == 202
    done = await api.wait_idle(session["id"])
    assert done["messages"] == [{"role": "user", "content": "hello"}]
    assert done["last_run"]["status"] == "failed"
    assert done["last_run"]["error"] == {"code": "model_error", "message": "the model provider answered 503"}
    assert (await api.turn(session["id"], "again")).status_code == 202  # the claim was released


async def test_a_failed_dispatch_releases_the_claim_before_the_500(api: Api) -> None:
    session = await api.create_session()
    await api.app.state.container.bridge.close()  # a backend that refuses work, as during shutdown
    response = await api.turn(session["id"], "hello")
    assert response.status_code == 500
    assert response.json()["code"] == "dispatch_failed"
    after = await api.get_session(session["id"])
    assert after["task_status"] is None and after["run_id"] is None and after["messages"] is None


async def test_a_hand_set_busy_flag_can_be_cleared_by_patch(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    await api.client.patch(url, json={"task_status": "chat_processing"}, headers=api.headers)
    assert (await api.turn(session["id"])).status_code == 409
    await api.client.patch(url, json={"task_status": None}, headers=api.headers)
    assert (await api.turn(session["id"])).status_code == 202
