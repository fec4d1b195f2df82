"""TASK_BACKEND=trigger: the wire format, retry policy and deadline of the Trigger.dev dispatcher.

The Trigger.dev cloud cannot be reached from here, so it is faked at the HTTP boundary: an
``httpx.MockTransport`` for the request details, and small local servers for the end-to-end paths.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from bridge.tokens import verify
from bridge.trigger_rest import TriggerBridge
from tests.support.fake_trigger import ENV_ID as FAKE_ENV_ID, FakeTrigger
from core.errors import DispatchError
from core.payloads import ChatTurnPayload, ExamplesInput, ExamplesPayload, Lead, TurnInput

SECRET = "tr_dev_0123456789abcdefghijklmnop"
ENV_ID = "cm_env_4b1d2c3e"


def turn_payload() -> ChatTurnPayload:
    return ChatTurnPayload(run_id="run_ours000000000000000001", session_id=str(uuid.uuid4()),
                           user_id=str(uuid.uuid4()), input=TurnInput(message="Write an intro", availableVarNames=["first_name"]))


def ok(run_id: str = "run_trig0000000000000000001", *, jwt: str | None = "header.jwt.token") -> httpx.Response:
    headers = {"x-trigger-jwt-claims": json.dumps({"sub": ENV_ID, "pub": True,
                                                   "scopes": [f"read:runs:{run_id}", f"write:inputStreams:{run_id}"]})}
    if jwt:
        headers["x-trigger-jwt"] = jwt
    return httpx.Response(200, json={"id": run_id, "isCached": False}, headers=headers)


class Recorder:
    """A scripted Trigger.dev: answers from ``replies`` in order and keeps every request."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def bridge_for(recorder: Recorder, **kwargs: Any) -> tuple[TriggerBridge, list[float]]:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(round(seconds, 3))

    options = {"api_url": "https://trigger.example", "secret_key": SECRET, "sleep": no_wait, **kwargs}
    return TriggerBridge(transport=httpx.MockTransport(recorder), **options), waits


async def test_trigger_request_matches_the_sdk_wire_format() -> None:
    recorder = Recorder(ok())
    bridge, _ = bridge_for(recorder, run_ttl_seconds=300)
    payload = turn_payload()

    dispatched = await bridge.dispatch(payload)

    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://trigger.example/api/v1/tasks/framework-chat-turn/trigger"
    h = request.headers
    assert h["authorization"] == f"Bearer {SECRET}"
    assert h["content-type"] == "application/json"
    assert (h["trigger-version"], h["x-trigger-api-version"], h["x-trigger-source"]) == ("4.8.3", "2025-07-16", "sdk")
    assert h["x-trigger-realtime-streams-version"] == "v2"
    assert uuid.UUID(h["x-trigger-request-idempotency-key"]).version == 4
    assert int(h["content-length"]) == len(request.content)  # the route answers 413 without it
    body = json.loads(request.content)
    assert body["payload"] == msgspec.to_builtins(payload)  # plain JSON, not a superjson string
    options = body["options"]
    assert options["payloadType"] == "application/json"
    assert options["idempotencyKey"] == hashlib.sha256(payload.run_id.encode()).hexdigest()
    assert options["idempotencyKeyOptions"] == {"key": payload.run_id, "scope": "global"}
    assert f"session:{payload.session_id}" in options["tags"] and all(len(t) <= 128 for t in options["tags"])
    assert options["ttl"] == 300
    assert dispatched.run_id == dispatched.external_id == "run_trig0000000000000000001"
    assert dispatched.public_access_token == "header.jwt.token"
    await bridge.close()


async def test_examples_task_goes_to_its_own_trigger_path() -> None:
    recorder = Recorder(ok())
    bridge, _ = bridge_for(recorder)
    payload = ExamplesPayload(run_id="run_x", session_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()),
                              input=ExamplesInput(leads=[Lead(first_name="Ana")]))
    await bridge.dispatch(payload)
    assert recorder.requests[0].url.path == "/api/v1/tasks/generate-email-examples/trigger"
    assert json.loads(recorder.requests[0].content)["payload"]["task"] == "generate-email-examples"


async def test_without_x_trigger_jwt_the_token_is_self_signed_like_the_sdk() -> None:
    bridge, _ = bridge_for(Recorder(ok("run_abc", jwt=None)), token_ttl=1800, clock=lambda: 1_800_000_000.5)
    dispatched = await bridge.dispatch(turn_payload())

    claims = verify(dispatched.public_access_token, SECRET, now=1_800_000_000)
    assert claims.raw == {"sub": ENV_ID, "pub": True, "scopes": ["read:runs:run_abc"], "iss": "https://id.trigger.dev",
                          "aud": "https://api.trigger.dev", "exp": 1_800_001_800, "iat": 1_800_000_000}
    assert list(claims.raw) == ["sub", "pub", "scopes", "iss", "aud", "exp", "iat"]  # jose's claim order


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
async def test_retryable_statuses_are_retried_with_the_sdk_backoff(status: int) -> None:
    recorder = Recorder(httpx.Response(status, json={"error": "busy"}), httpx.Response(status), ok())
    bridge, waits = bridge_for(recorder)
    dispatched = await bridge.dispatch(turn_payload())
    assert dispatched.run_id == "run_trig0000000000000000001"
    assert waits == [1.0, 1.6]  # minTimeoutInMs 1000, factor 1.6, no jitter
    keys = {r.headers["x-trigger-request-idempotency-key"] for r in recorder.requests}
    assert len(recorder.requests) == 3 and len(keys) == 1  # one logical call, one request key


async def test_network_errors_are_retried() -> None:
    recorder = Recorder(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok())
    bridge, waits = bridge_for(recorder)
    assert (await bridge.dispatch(turn_payload())).run_id == "run_trig0000000000000000001"
    assert waits == [1.0, 1.6]


async def test_rate_limit_waits_until_x_ratelimit_reset() -> None:
    now = 1_900_000_000.0
    limited = httpx.Response(429, headers={"x-ratelimit-reset": str(int((now + 2.5) * 1000))})
    bridge, waits = bridge_for(Recorder(limited, ok()), clock=lambda: now)
    await bridge.dispatch(turn_payload())
    assert waits == [2.5]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_client_errors_fail_at_once_as_dispatch_errors(status: int) -> None:
    recorder = Recorder(httpx.Response(status, json={"error": "Task not found"}))
    bridge, waits = bridge_for(recorder)
    with pytest.raises(DispatchError, match=f"HTTP {status}: Task not found"):
        await bridge.dispatch(turn_payload())
    assert len(recorder.requests) == 1 and waits == []


async def test_x_should_retry_header_overrides_the_status_rule() -> None:
    no = Recorder(httpx.Response(500, headers={"x-should-retry": "false"}))
    bridge, _ = bridge_for(no)
    with pytest.raises(DispatchError):
        await bridge.dispatch(turn_payload())
    assert len(no.requests) == 1
    yes = Recorder(httpx.Response(400, headers={"x-should-retry": "true"}), ok())
    bridge, _ = bridge_for(yes)
    await bridge.dispatch(turn_payload())
    assert len(yes.requests) == 2


async def test_attempts_are_capped_like_the_sdk_then_dispatch_fails() -> None:
    recorder = Recorder(*[httpx.Response(503) for _ in range(5)])
    bridge, waits = bridge_for(recorder)
    with pytest.raises(DispatchError, match="HTTP 503"):
        await bridge.dispatch(turn_payload())
    assert len(recorder.requests) == 5
    assert waits == [1.0, 1.6, 2.56, 4.096]


async def test_a_response_without_a_run_id_is_a_dispatch_error() -> None:
    bridge, _ = bridge_for(Recorder(httpx.Response(200, json={"isCached": False})))
    with pytest.raises(DispatchError, match="without a run id"):
        await bridge.dispatch(turn_payload())


async def test_one_overall_deadline_bounds_a_server_that_never_answers() -> None:
    """Real sockets: a server that accepts and stays silent. Per-request timeouts come out of the deadline."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bridge = TriggerBridge(api_url=f"http://127.0.0.1:{port}", secret_key=SECRET, deadline_seconds=1.5, min_delay=0.1)
    started = time.monotonic()
    try:
        with pytest.raises(DispatchError, match="within 1.5s"):
            await bridge.dispatch(turn_payload())
    finally:
        await bridge.close()
        server.close()
    assert time.monotonic() - started < 1.5 + 1.0  # one deadline, not attempts x timeout


@pytest.fixture
def fake_trigger() -> Iterator[FakeTrigger]:
    """A local Trigger.dev trigger route (tests/support/fake_trigger.py), recording what it received."""
    fake = FakeTrigger(SECRET).start()
    yield fake
    fake.close()


async def test_api_turn_under_trigger_backend_returns_the_trigger_run(api_factory, fake_trigger) -> None:
    api = await api_factory(task_backend="trigger", trigger_api_url=fake_trigger.url, trigger_secret_key=SECRET)
    session = await api.create_session()

    response = await api.turn(session["id"], "Write an intro email")

    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    trigger = [r for r in fake_trigger.requests if r.method == "POST" and r.path.endswith("/trigger")][-1]
    assert trigger.path == "/api/v1/tasks/framework-chat-turn/trigger"
    assert trigger.body["payload"]["session_id"] == session["id"]
    busy = await api.get_session(session["id"])
    assert busy["task_status"] == "chat_processing" and busy["run_id"] == run_id
    claims = verify(response.json()["publicAccessToken"], SECRET)  # Trigger.dev's x-trigger-jwt, passed on
    assert f"read:runs:{run_id}" in claims.scopes and claims.sub == FAKE_ENV_ID


async def test_api_answers_dispatch_failed_and_frees_the_session_when_trigger_refuses(api_factory, fake_trigger) -> None:
    api = await api_factory(task_backend="trigger", trigger_api_url=fake_trigger.url, trigger_secret_key=SECRET)
    session = await api.create_session()
    fake_trigger.secret_key = "tr_dev_someone_else"  # our key is refused: 401 Invalid or Missing API key

    failed = await api.turn(session["id"], "Write an intro email")
    assert failed.status_code == 500 and failed.json()["code"] == "dispatch_failed"
    assert (await api.get_session(session["id"]))["task_status"] is None

    fake_trigger.secret_key = SECRET
    assert (await api.turn(session["id"], "Write an intro email")).status_code == 202
