"""Every forged, foreign or stale public token is refused by every realtime route, over HTTP.

Complements test_realtime_protocol.py (tampered, expired, other environment, other secret on the
subscribe route) with ``alg: none``, wrong ``aud``/``iss``, a missing ``pub`` and another run's
token, on subscribe, stream, retrieve and cancel alike.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import pytest

from bridge.tokens import AUDIENCE, ISSUER, mint

SECRET = "test-public-token-secret-0123456789abcdef"
ENV = "env_campaign_chat_local"


def forged(run_id: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": ENV, "pub": True, "scopes": [f"read:runs:{run_id}", f"write:runs:{run_id}"], "iss": ISSUER,
              "aud": AUDIENCE, "iat": now, "exp": now + 600}
    unsigned = jwt.encode(claims, key="", algorithm="none")
    return {
        "alg none": unsigned,
        "HS256 header, no signature": "eyJhbGciOiJIUzI1NiJ9." + unsigned.split(".")[1] + ".",
        "wrong key": jwt.encode(claims, "not-" + SECRET, algorithm="HS256"),
        "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, SECRET, algorithm="HS256"),
        "wrong audience": jwt.encode({**claims, "aud": "https://evil.example"}, SECRET, algorithm="HS256"),
        "wrong issuer": jwt.encode({**claims, "iss": "https://evil.example"}, SECRET, algorithm="HS256"),
        "not public": jwt.encode({k: v for k, v in claims.items() if k != "pub"}, SECRET, algorithm="HS256"),
        "HS512": jwt.encode(claims, SECRET, algorithm="HS512"),
        "empty": "",
        # a header nested 1,500 deep: the JSON decoder's RecursionError was a 500, with no credential at all
        "header nested deep": base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=") + ".e30.AAAA",
    }


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # the HS512 forgery uses our (short for HS512) secret
async def test_forged_and_stale_tokens_are_refused_on_every_realtime_route(api: Any) -> None:
    session = await api.create_session()
    turn = (await api.turn(session["id"])).json()
    await api.wait_idle(session["id"])
    run_id = turn["runId"]
    routes = [("GET", f"/realtime/v1/runs/{run_id}?offset=-1"), ("GET", f"/realtime/v1/streams/{run_id}/chat"),
              ("GET", f"/api/v3/runs/{run_id}"), ("POST", f"/api/v2/runs/{run_id}/cancel")]
    for name, token in forged(run_id).items():
        for method, url in routes:
            response = await api.client.request(method, url, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (name, url, response.status_code)
            assert run_id not in response.text and "COMPLETED" not in response.text, (name, url)
    # The genuine token still works, so the refusals above were about the tokens.
    ok = await api.client.get(f"/api/v3/runs/{run_id}", headers={"Authorization": f"Bearer {turn['publicAccessToken']}"})
    assert ok.status_code == 200 and ok.json()["id"] == run_id


async def test_another_runs_token_is_refused_on_every_realtime_route(api: Any) -> None:
    mine, theirs = await api.create_session(), await api.create_session()
    run = (await api.turn(mine["id"])).json()
    other = (await api.turn(theirs["id"])).json()
    await api.wait_idle(mine["id"])
    await api.wait_idle(theirs["id"])
    foreign = {"Authorization": f"Bearer {other['publicAccessToken']}"}
    for method, url in [("GET", f"/realtime/v1/runs/{run['runId']}?offset=-1"),
                        ("GET", f"/realtime/v1/streams/{run['runId']}/chat"),
                        ("GET", f"/api/v3/runs/{run['runId']}"), ("POST", f"/api/v2/runs/{run['runId']}/cancel")]:
        response = await api.client.request(method, url, headers=foreign)
        assert response.status_code == 403, (url, response.status_code)
        assert run["runId"] not in response.text
    # A validly signed token whose scope names another run is the same thing, minted by hand.
    scoped = mint(SECRET, sub=ENV, scopes=[f"read:runs:{other['runId']}"], ttl_seconds=60)
    response = await api.client.get(f"/api/v3/runs/{run['runId']}", headers={"Authorization": f"Bearer {scoped}"})
    assert response.status_code == 403
