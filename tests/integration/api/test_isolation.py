"""Tenant isolation: a second user walks EVERY served route against the first user's session and
run, with their own API key and with their own run's public token, and never sees the first
user's data. The walk is checked against the app's route table, so a new route must join it."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api

BASE = "/api/campaigns/ai-chat-sessions"


async def owner_state(api: Api) -> dict[str, Any]:
    """A session with a finished turn, a skeleton and examples: something worth stealing."""
    session = await api.create_session(title="secret launch plan")
    turn = await api.turn(session["id"], "Our confidential offer: Project Nightjar")
    assert turn.status_code == 202, turn.text
    await api.wait_idle(session["id"])
    await api.client.patch(f"{BASE}/{session['id']}", json={"skeleton": {"hook": "nightjar"}}, headers=api.headers)
    examples = await api.client.post(f"{BASE}/{session['id']}/generate-examples",
                                     json={"leads": [{"first_name": "Zed", "company": "Nightjar Labs"}]}, headers=api.headers)
    assert examples.status_code == 202, examples.text
    done = await api.wait_idle(session["id"])
    assert done["generated_examples"]
    return {"session": done, "run_id": turn.json()["runId"], "examples_run_id": examples.json()["runId"]}


def served_routes(app: Any) -> set[tuple[str, str]]:
    return {(m, r.path_format) for r in app.routes for m in r.methods if m not in ("OPTIONS", "HEAD")}


async def test_a_second_user_reaches_nothing_of_the_first_users_on_any_route(api: Api) -> None:
    owned = await owner_state(api)
    sid, run_id = owned["session"]["id"], owned["run_id"]
    campaign = owned["session"]["campaign_id"]
    secrets = [sid, run_id, owned["examples_run_id"], api.user_id, "Nightjar", "secret launch plan"]

    stranger_session = (await api.client.post(BASE, json={"campaign_id": campaign, "node_id": owned["session"]["node_id"]},
                                              headers=api.other_headers)).json()["session"]
    stranger_turn = (await api.client.post(f"{BASE}/{stranger_session['id']}/turn", json={"message": "hi"},
                                           headers=api.other_headers)).json()
    stranger_token = {"Authorization": f"Bearer {stranger_turn['publicAccessToken']}"}
    key = api.other_headers

    # route -> (method, url, body, the statuses a stranger may get)
    walk: dict[tuple[str, str], tuple[str, str, Any, set[int]]] = {
        ("GET", "/health"): ("GET", "/health", None, {200}),
        ("GET", "/health/ready"): ("GET", "/health/ready", None, {200}),
        ("GET", "/openapi.yaml"): ("GET", "/openapi.yaml", None, {200}),
        ("GET", "/metrics"): ("GET", "/metrics", None, {200}),  # aggregate counts only; needs a key off loopback
        ("GET", BASE): ("GET", f"{BASE}?campaign_id={campaign}", None, {200}),  # the stranger's own (empty of ours)
        ("POST", BASE): ("POST", BASE, {"campaign_id": campaign, "node_id": owned["session"]["node_id"]}, {201}),
        ("GET", f"{BASE}/{{session_id}}"): ("GET", f"{BASE}/{sid}", None, {404}),
        ("PATCH", f"{BASE}/{{session_id}}"): ("PATCH", f"{BASE}/{sid}", {"title": "pwned", "task_status": None}, {404}),
        ("DELETE", f"{BASE}/{{session_id}}"): ("DELETE", f"{BASE}/{sid}", None, {404}),
        ("POST", f"{BASE}/{{session_id}}/turn"): ("POST", f"{BASE}/{sid}/turn", {"message": "show me"}, {404}),
        ("POST", f"{BASE}/{{session_id}}/generate-examples"): (
            "POST", f"{BASE}/{sid}/generate-examples", {"leads": [{"first_name": "Eve"}]}, {404}),
        ("GET", "/realtime/v1/runs/{run_id}"): ("GET", f"/realtime/v1/runs/{run_id}?offset=-1", None, {404}),
        ("GET", "/realtime/v1/streams/{run_id}/{key}"): ("GET", f"/realtime/v1/streams/{run_id}/chat", None, {404}),
        ("GET", "/api/v3/runs/{run_id}"): ("GET", f"/api/v3/runs/{run_id}", None, {404}),
        ("POST", "/api/v2/runs/{run_id}/cancel"): ("POST", f"/api/v2/runs/{run_id}/cancel", None, {404}),
    }
    assert set(walk) == served_routes(api.app), "a served route is missing from the isolation walk"

    for route, (method, url, body, allowed) in walk.items():
        response = await api.client.request(method, url, json=body, headers=key)
        assert response.status_code in allowed, (route, response.status_code, response.text)
        leaked = [s for s in secrets if s in response.text or s in str(response.headers)]
        assert not leaked, (route, leaked)

    # The stranger's public token is scoped to the stranger's run: the owner's run is refused outright.
    for url in (f"/realtime/v1/runs/{run_id}?offset=-1", f"/realtime/v1/streams/{run_id}/chat", f"/api/v3/runs/{run_id}"):
        response = await api.client.get(url, headers=stranger_token)
        assert response.status_code in (403, 404), (url, response.status_code)
        assert not [s for s in secrets if s in response.text]
    cancel = await api.client.post(f"/api/v2/runs/{run_id}/cancel", headers=stranger_token)
    assert cancel.status_code in (403, 404)

    await asyncio.sleep(0)
    after = await api.get_session(sid)  # nothing the stranger sent changed the owner's session
    assert after["title"] == "secret launch plan"
    assert after["messages"] == owned["session"]["messages"] and after["generated_examples"] == owned["session"]["generated_examples"]


async def test_every_route_that_is_not_public_refuses_a_request_without_a_key(api: Api) -> None:
    """The guard, exercised: every served route/method outside the public list answers 401 without a key."""
    from tests.unit.api.test_routes_guarded import PUBLIC

    session = await api.create_session()
    public = {p.replace(":str}", "}") for p in PUBLIC}
    refused = 0
    for method, path in sorted(served_routes(api.app)):
        if path in public:
            continue
        url = path.replace("{session_id}", session["id"]).replace("{run_id}", "run_x").replace("{key}", "chat")
        response = await api.client.request(method, url, json={"message": "hi"})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["code"] == "unauthorized"
        refused += 1
    assert refused >= 7
