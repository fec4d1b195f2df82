"""API keys as an operator relies on them: revocation takes effect within the auth cache's TTL,
and neither keys, public tokens nor the token secret ever reach a log line or a response."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from core.ids import utcnow
from core.settings import Settings
from store import keys
from tests.conftest import LiveServer, base_env, run_cli

BASE = "/api/campaigns/ai-chat-sessions"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def revoke(api: Any, key: str) -> None:
    """What `campaign-chat keys revoke` does, on the app's own database."""
    async with api.app.state.container.db.write() as conn:
        assert await keys.revoke(conn, key_or_id=key, now=utcnow())


async def test_a_revoked_key_works_while_cached_and_stops_once_the_ttl_has_passed(api_factory: Any) -> None:
    api = await api_factory(auth_cache_seconds=5)
    clock = Clock(1_000.0)
    api.app.state.container.auth.clock = clock
    key = api.headers["Authorization"].split()[1]
    url = f"{BASE}?campaign_id={uuid.uuid4()}"

    assert (await api.client.get(url, headers=api.headers)).status_code == 200  # looked up and cached at t=1000
    await revoke(api, key)
    for now in (1_001.0, 1_003.0, 1_004.9):  # within the TTL the cached entry still answers...
        clock.now = now
        assert (await api.client.get(url, headers=api.headers)).status_code == 200
    clock.now = 1_005.1  # ...and those hits did not extend it: 5 s after the lookup, the key is refused
    for _ in range(3):
        refused = await api.client.get(url, headers=api.headers)
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert (await api.client.get(url, headers=api.other_headers)).status_code == 200  # other keys unaffected


async def test_without_a_cache_revocation_is_immediate(api_factory: Any, settings: Settings, tmp_path: Path) -> None:
    api = await api_factory(auth_cache_seconds=0)
    key = api.headers["Authorization"].split()[1]
    url = f"{BASE}?campaign_id={uuid.uuid4()}"
    assert (await api.client.get(url, headers=api.headers)).status_code == 200
    await asyncio.to_thread(run_cli, ["keys", "revoke", key], base_env(tmp_path, DATABASE_URL=settings.database_url))
    assert (await api.client.get(url, headers=api.headers)).status_code == 401


async def test_keys_tokens_and_the_token_secret_never_reach_logs_or_responses(
    live_server_factory: Callable[..., LiveServer]
) -> None:
    # No recognisable prefix: the log redaction safety net cannot be what keeps this secret out.
    secret = "plainsecret" + uuid.uuid4().hex
    server = live_server_factory(CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET=secret, CAMPAIGN_CHAT_LOG_LEVEL="DEBUG")
    key = await asyncio.to_thread(server.create_key)
    wrong_key = "cc_live_" + uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {key}"}
    seen: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async def call(method: str, url: str, **kw: Any) -> httpx.Response:
            response = await client.request(method, url, **kw)
            seen.append(response)
            return response

        session = (await call("POST", BASE, headers=headers,
                              json={"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4())})).json()["session"]
        turn = (await call("POST", f"{BASE}/{session['id']}/turn", headers={**headers, "Idempotency-Key": "k1"},
                           json={"message": "Write an intro email"})).json()
        replay = (await call("POST", f"{BASE}/{session['id']}/turn", headers={**headers, "Idempotency-Key": "k1"},
                             json={"message": "Write an intro email"})).json()
        token = {"Authorization": f"Bearer {turn['publicAccessToken']}"}
        for _ in range(100):
            if (await call("GET", f"{BASE}/{session['id']}", headers=headers)).json()["session"]["task_status"] is None:
                break
            await asyncio.sleep(0.05)
        await call("GET", f"/realtime/v1/runs/{turn['runId']}?offset=-1", headers=token)
        await call("GET", f"/api/v3/runs/{turn['runId']}", headers=token)
        await call("GET", f"/api/v3/runs/{turn['runId']}", headers=headers)
        await call("GET", f"/realtime/v1/runs/{turn['runId']}?offset=-1", headers={"Authorization": "Bearer e30.e30.AAAA"})
        await call("GET", f"{BASE}/{session['id']}", headers={"Authorization": f"Bearer {wrong_key}"})
        await call("GET", "/metrics")
    assert turn["runId"] == replay["runId"]
    for _ in range(200):  # until the server wrote the access line of the last request (/metrics)
        if '"/metrics"' in server.logs():
            break
        await asyncio.sleep(0.05)
    logs = server.logs()
    assert f'"run_id": "{turn["runId"]}"' in logs or turn["runId"] in logs  # the logs did cover these requests
    for name, value in {"api key": key, "wrong key": wrong_key, "token secret": secret,
                        "public token": turn["publicAccessToken"], "replayed token": replay["publicAccessToken"]}.items():
        assert value not in logs, f"the {name} was logged"
    for response in seen:
        assert secret not in response.text and secret not in str(response.headers), response.url
        assert key not in response.text and key not in str(response.headers), response.url
