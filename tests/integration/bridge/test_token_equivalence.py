"""A public access token we mint equals, claim for claim, what the real @trigger.dev/sdk 4.8.3 mints.

Both sides get the same inputs: the secret key, the claims Trigger.dev sends in ``x-trigger-jwt-claims``
(no ``x-trigger-jwt``, so the SDK self-signs), the run id and the clock. The SDK runs in Node from
``node-checks/`` (pinned by its lockfile; ``scripts/node-setup.sh`` installs it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess

import httpx

from bridge.trigger_rest import TriggerBridge
from tests.conftest import ROOT
from core.payloads import ChatTurnPayload, TurnInput

SECRET = "tr_dev_equivalence_0123456789abcdef"
NOW = 1_893_456_000
TRIGGER_RUN_ID = "run_cmequivalence0000000001"
CLAIMS = {"sub": "cm3envequivalence00001", "pub": True,
          "scopes": [f"read:runs:{TRIGGER_RUN_ID}", f"write:inputStreams:{TRIGGER_RUN_ID}"]}
OUR_RUN_ID = "run_ourequivalence000000001"


def decode(token: str) -> tuple[dict, dict]:
    def part(text: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))

    header, payload, _ = token.split(".")
    return part(header), part(payload)


async def our_dispatch() -> tuple[str, httpx.Request]:
    seen: list[httpx.Request] = []

    def trigger_dev(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": TRIGGER_RUN_ID, "isCached": False},
                              headers={"x-trigger-jwt-claims": json.dumps(CLAIMS)})

    bridge = TriggerBridge(api_url="https://trigger.example", secret_key=SECRET, token_ttl=3600,
                           transport=httpx.MockTransport(trigger_dev), clock=lambda: NOW)
    payload = ChatTurnPayload(run_id=OUR_RUN_ID, session_id="6a1f0b7e-8d5c-4f3a-9b2e-1c0d9e8f7a6b",
                              user_id="0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", input=TurnInput(message="hi"))
    dispatched = await bridge.dispatch(payload)
    await bridge.close()
    return dispatched.public_access_token, seen[0]


def run_sdk(our_token: str) -> dict:
    node = shutil.which("node")
    assert node, "Node 20 is required for the SDK check (see scripts/node-setup.sh)"
    assert (ROOT / "node-checks" / "node_modules" / "@trigger.dev" / "sdk").is_dir(), \
        "node-checks/ is not installed: run `bash scripts/node-setup.sh`"
    env = {**os.environ, "SECRET_KEY": SECRET, "NOW_SECONDS": str(NOW), "RUN_ID": TRIGGER_RUN_ID,
           "CLAIMS": json.dumps(CLAIMS), "IDEMPOTENCY_KEY": OUR_RUN_ID, "OUR_TOKEN": our_token}
    result = subprocess.run([node, "token-equivalence.mjs"], cwd=ROOT / "node-checks", env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_our_self_signed_token_is_the_sdks_token_claim_for_claim() -> None:
    ours, _ = await our_dispatch()
    sdk = run_sdk(ours)

    assert sdk["sdkRunId"] == TRIGGER_RUN_ID
    assert decode(ours) == decode(sdk["sdkToken"])  # same header, same claims and values
    assert decode(ours)[1] == {"sub": CLAIMS["sub"], "pub": True, "scopes": [f"read:runs:{TRIGGER_RUN_ID}"],
                               "iss": "https://id.trigger.dev", "aud": "https://api.trigger.dev",
                               "exp": NOW + 3600, "iat": NOW}
    assert ours == sdk["sdkToken"]  # byte for byte, signature included
    assert sdk["sdkAcceptsOurs"] is True, sdk["sdkRejection"]


async def test_our_trigger_request_carries_the_headers_and_idempotency_key_the_sdk_sends() -> None:
    ours, request = await our_dispatch()
    sdk = run_sdk(ours)["request"]

    assert sdk["path"] == request.url.path
    for name in ("authorization", "content-type", "trigger-version", "x-trigger-api-version", "x-trigger-source",
                 "x-trigger-realtime-streams-version"):
        assert request.headers[name] == sdk["headers"][name], name
    assert "x-trigger-request-idempotency-key" in sdk["headers"]
    assert "content-length" in sdk["headers"] and "content-length" in request.headers
    ours_options = json.loads(request.content)["options"]
    assert ours_options["idempotencyKey"] == sdk["body"]["options"]["idempotencyKey"]
    assert ours_options["idempotencyKey"] == hashlib.sha256(OUR_RUN_ID.encode()).hexdigest()
    assert ours_options["idempotencyKeyOptions"]["key"] == sdk["body"]["options"]["idempotencyKeyOptions"]["key"]
