"""Request ids, readiness and the access log's shape, over HTTP."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.conftest import Api, free_port


async def test_every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept(api: Api) -> None:
    generated = await api.client.get("/health")
    assert generated.headers["x-request-id"].startswith("req_")
    kept = await api.client.get("/health", headers={"X-Request-Id": "edge-7f3a.1"})
    assert kept.headers["x-request-id"] == "edge-7f3a.1"
    hostile = await api.client.get("/health", headers={"X-Request-Id": "x\" injected=1 " + "y" * 200})
    assert hostile.headers["x-request-id"].startswith("req_")
    missing = await api.client.get("/no/such/route")
    assert missing.status_code == 404 and missing.headers["x-request-id"].startswith("req_")


async def test_ready_when_the_database_answers(api: Api) -> None:
    response = await api.client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_not_ready_names_the_database_when_it_is_unreachable(settings: Settings) -> None:
    dead = replace(settings, database_url=f"postgresql+asyncpg://app@127.0.0.1:{free_port()}/nothing_here")
    async with AsyncTestClient(create_app(dead, migrate=False)) as client:
        live = await client.get("/health")
        ready = await client.get("/health/ready")
    assert live.status_code == 200  # the process is up ...
    assert ready.status_code == 503  # ... but cannot serve
    body: dict[str, Any] = ready.json()
    assert body["code"] == "unavailable"
    assert body["failing"] == ["database"]
    assert "database" in body["error"]
    assert body["checks"]["database"].startswith("error:")


async def test_not_ready_names_redis_when_the_arq_backend_cannot_reach_it(api_factory: Any) -> None:
    api = await api_factory(task_backend="arq", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert (await api.client.get("/health")).status_code == 200
    ready = await api.client.get("/health/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["code"] == "unavailable" and "redis" in body["error"]
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] != "ok"


async def test_every_answer_carries_nosniff_and_no_store_and_every_error_is_json(api: Api) -> None:
    session = await api.create_session()
    url = f"/api/campaigns/ai-chat-sessions/{session['id']}"
    turn = (await api.turn(session["id"])).json()
    await api.wait_idle(session["id"])
    token = {"Authorization": f"Bearer {turn['publicAccessToken']}"}
    requests: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", "/health", {}, 200),
        ("GET", "/health/ready", {}, 200),
        ("GET", "/openapi.yaml", {}, 200),
        ("GET", url, api.headers, 200),
        ("GET", url, {}, 401),
        ("PATCH", url, {**api.headers, "content-type": "text/plain"}, 415),
        ("GET", "/no/such/route", {}, 404),
        ("GET", "/realtime/v1/nothing", {}, 404),
        ("DELETE", "/health", {}, 405),
        ("OPTIONS", "/health", {}, 405),
        ("HEAD", "/health", {}, 405),
        ("PUT", url, api.headers, 405),
        ("OPTIONS", url, api.headers, 405),
        ("OPTIONS", "/api/campaigns/ai-chat-sessions", api.headers, 405),
        ("PUT", f"/realtime/v1/runs/{turn['runId']}", token, 405),
        ("OPTIONS", f"/realtime/v1/runs/{turn['runId']}", {}, 200),
        ("GET", f"/realtime/v1/runs/{turn['runId']}?offset=-1", token, 200),
        ("GET", f"/realtime/v1/runs/{turn['runId']}?offset=-1", {}, 401),
        ("GET", f"/realtime/v1/streams/{turn['runId']}/chat", token, 200),
        ("GET", f"/api/v3/runs/{turn['runId']}", token, 200),
    ]
    for method, path, headers, status in requests:
        response = await api.client.request(method, path, headers=headers)
        where = f"{method} {path}"
        assert response.status_code == status, (where, response.text)
        assert response.headers["x-content-type-options"] == "nosniff", where
        assert response.headers["cache-control"] == "no-store", where
        if status >= 400 and method != "HEAD":
            assert response.headers["content-type"] == "application/json", where
            # The realtime routes answer in Trigger.dev's shape ({"error"}, a code where Trigger.dev has one).
            assert ({"error"} if path.startswith("/realtime/") else {"error", "code"}) <= set(response.json()), where
        if status == 405:
            allowed = [m.strip() for m in response.headers["allow"].split(",")]
            assert allowed and "HEAD" not in allowed, where
            # Only the realtime routes answer OPTIONS (the CORS preflight); elsewhere it is refused.
            assert ("OPTIONS" in allowed) == path.startswith("/realtime/"), where
        if path.startswith("/realtime/"):
            assert response.headers["access-control-allow-origin"] == "*", where
