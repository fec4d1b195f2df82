"""Per-API-key rate limiting: 429 with Retry-After, per key, shared across instances through Redis."""

from __future__ import annotations

import uuid
from typing import Any

from services.ratelimit import LocalWindow
from core.errors import RateLimited
from tests.conftest import free_port

BASE = "/api/campaigns/ai-chat-sessions"


def list_url() -> str:
    return f"{BASE}?campaign_id={uuid.uuid4()}"


async def test_the_request_over_the_limit_is_429_with_retry_after(api_factory: Any) -> None:
    api = await api_factory(rate_limit_per_minute=3)
    for _ in range(3):
        assert (await api.client.get(list_url(), headers=api.headers)).status_code == 200
    refused = await api.client.get(list_url(), headers=api.headers)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    posted = await api.client.post(BASE, json={"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4())},
                                   headers=api.headers)
    assert posted.status_code == 429  # every authenticated operation counts against the key
    assert (await api.client.get(list_url(), headers=api.other_headers)).status_code == 200  # other keys are untouched


async def test_the_realtime_routes_count_api_key_callers_too(api_factory: Any) -> None:
    api = await api_factory(rate_limit_per_minute=2)
    session = await api.create_session()
    run = (await api.turn(session["id"])).json()
    refused = await api.client.get(f"/api/v3/runs/{run['runId']}", headers=api.headers)
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert refused.headers["access-control-allow-origin"] == "*"
    # A browser following its run with the run's public token is not an API-key caller: not limited.
    followed = await api.client.get(f"/api/v3/runs/{run['runId']}",
                                    headers={"Authorization": f"Bearer {run['publicAccessToken']}"})
    assert followed.status_code == 200


async def test_an_invalid_key_is_401_not_429(api_factory: Any) -> None:
    api = await api_factory(rate_limit_per_minute=1)
    for _ in range(3):
        response = await api.client.get(list_url(), headers={"Authorization": "Bearer cc_live_nope"})
        assert response.status_code == 401


async def test_instances_sharing_redis_share_one_count(api_factory: Any, redis_url: str) -> None:
    import redis.asyncio as redis

    queue = f"test-{uuid.uuid4().hex}"
    one = await api_factory(rate_limit_per_minute=4, task_backend="arq", redis_url=redis_url, arq_queue_name=queue)
    two = await api_factory(rate_limit_per_minute=4, task_backend="arq", redis_url=redis_url, arq_queue_name=queue)
    client = redis.Redis.from_url(redis_url)
    try:
        statuses = []
        for api in (one, two, one, two, one, two):
            statuses.append((await api.client.get(list_url(), headers=one.headers)).status_code)
        assert statuses == [200, 200, 200, 200, 429, 429]
        stored = [k async for k in client.scan_iter(match=f"{queue}:ratelimit:*")]
        assert len(stored) == 1 and one.headers["Authorization"].split()[1].encode() not in stored[0]
        assert 0 < await client.pttl(stored[0]) <= 60_000  # the window's counter expires by itself
    finally:
        async for key in client.scan_iter(match=f"{queue}:*"):
            await client.delete(key)
        await client.aclose()


async def test_when_redis_is_down_requests_are_let_through(api_factory: Any) -> None:
    api = await api_factory(rate_limit_per_minute=1, task_backend="arq", redis_url=f"redis://127.0.0.1:{free_port()}/0",
                            arq_queue_name=f"test-{uuid.uuid4().hex}")
    for _ in range(3):
        assert (await api.client.get(list_url(), headers=api.headers)).status_code == 200


async def test_zero_disables_the_limit(api_factory: Any) -> None:
    api = await api_factory(rate_limit_per_minute=0)
    for _ in range(50):
        assert (await api.client.get(list_url(), headers=api.headers)).status_code == 200


async def test_the_local_window_resets_when_the_minute_turns() -> None:
    now = [120.0]
    limiter = LocalWindow(2, clock=lambda: now[0])
    await limiter.hit("k")
    await limiter.hit("k")
    now[0] = 150.5
    try:
        await limiter.hit("k")
    except RateLimited as exc:
        assert exc.headers["Retry-After"] == "30"  # 29.5 s left in the window, rounded up
    else:
        raise AssertionError("the third request in one window was admitted")
    now[0] = 180.0
    await limiter.hit("k")  # a new window


def test_the_contract_documents_429_with_retry_after_on_every_authenticated_operation() -> None:
    import yaml

    from tests.conftest import ROOT

    contract = yaml.safe_load((ROOT / "contracts" / "openapi.yaml").read_text())
    limited = contract["components"]["responses"]["RateLimited"]
    assert limited["headers"]["Retry-After"]["required"] is True
    for path, item in contract["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            authenticated = op.get("security", contract["security"]) != []
            documented = op["responses"].get("429") == {"$ref": "#/components/responses/RateLimited"}
            assert documented == authenticated, (method, path)


async def test_failed_authentication_is_throttled_per_address_without_a_lookup(api_factory: Any,
                                                                                monkeypatch: Any) -> None:
    import httpx

    from store import keys
    from tests.conftest import make_key

    api = await api_factory(auth_failures_per_minute=3, auth_cache_seconds=0)
    lookups = []
    resolve = keys.resolve

    async def counted(conn: Any, key: str) -> Any:
        lookups.append(key)
        return await resolve(conn, key)

    monkeypatch.setattr(keys, "resolve", counted)
    assert (await api.client.get(list_url(), headers=api.headers)).status_code == 200  # a key known to work here
    wrong = {"Authorization": "Bearer cc_live_guess"}
    for _ in range(3):
        assert (await api.client.get(list_url(), headers=wrong)).status_code == 401
    before = len(lookups)
    refused = await api.client.get(list_url(), headers=wrong)
    assert refused.status_code == 429 and refused.json()["code"] == "auth_throttled"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    fresh = await make_key(api.app.state.container.db)  # valid, but never seen from here: not looked up either
    assert (await api.client.get(list_url(), headers={"Authorization": f"Bearer {fresh.key}"})).status_code == 429
    realtime = await api.client.get("/api/v3/runs/run_x", headers=wrong)
    assert realtime.status_code == 429 and realtime.json()["code"] == "auth_throttled"
    assert realtime.headers["access-control-allow-origin"] == "*" and realtime.headers["retry-after"]
    assert len(lookups) == before  # throttled requests cost no database query
    # A key that worked here before still does (a client behind the same NAT as the guesser) ...
    assert (await api.client.get(list_url(), headers=api.headers)).status_code == 200
    # ... and another address is not affected.
    transport = httpx.ASGITransport(app=api.app, client=("203.0.113.9", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
        assert (await elsewhere.get(list_url(), headers=wrong)).status_code == 401
        assert (await elsewhere.get(list_url(), headers={"Authorization": f"Bearer {fresh.key}"})).status_code == 200


def test_the_failure_throttle_forgets_when_the_minute_turns_and_bounds_its_table() -> None:
    from services.ratelimit import FailureThrottle

    now = [60.0]
    throttle = FailureThrottle(2, clock=lambda: now[0])
    throttle.failed("a")
    throttle.failed("a")
    try:
        throttle.check("a")
    except RateLimited as exc:
        assert exc.code == "auth_throttled" and exc.headers["Retry-After"] == "60"
    else:
        raise AssertionError("an address past its failures was let through")
    throttle.check("b")
    now[0] = 120.0
    throttle.check("a")  # a new window

    small = FailureThrottle(1, clock=lambda: now[0])
    small.MAX_ADDRESSES = 2
    for address in ("x", "y", "z1", "z2"):
        small.failed(address)
    assert set(small._failures) == {"x", "y", FailureThrottle.OVERFLOW}
    try:
        small.check("z3")  # every address past the table's size shares the overflow bucket
    except RateLimited:
        pass
    else:
        raise AssertionError("the overflow bucket did not throttle")
