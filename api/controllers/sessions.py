"""``/api/campaigns/ai-chat-sessions``: parse, call one service method, return the contract's shape."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery

from api.errors import decode_error
from core.errors import BadRequest, UnsupportedMediaType
from core.payloads import UUID_RE, CreateSessionInput, ExamplesInput, PatchSessionInput, TurnInput
from services.sessions import SessionService

T = TypeVar("T")
_uuid = re.compile(UUID_RE)
# Visible ASCII only (no spaces: proxies may trim them), 1-255 characters, as the contract documents.
IDEMPOTENCY_KEY_RE = re.compile(r"[!-~]{1,255}")
_decoders: dict[type, msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(t) for t in (CreateSessionInput, PatchSessionInput, TurnInput, ExamplesInput)
}


def _check_uuid(value: str | None, name: str, where: str) -> str:
    if value is None or value == "":
        raise BadRequest(f"Missing required {where} parameter `{name}`", field=name)
    if not _uuid.match(value):
        raise BadRequest(f"Invalid value for `{name}`: expected a UUID", field=name)
    return value


async def _body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Send the body as application/json, not {media_type}")
    raw = await request.body()
    if not raw:
        raise BadRequest("Request body is empty: send a JSON object", code="invalid_json")
    try:
        body = _decoders[kind].decode(raw)
    except msgspec.DecodeError as exc:
        raise decode_error(exc) from None
    if b"\\u0000" in raw and _has_nul(msgspec.json.decode(raw)):
        # PostgreSQL text and JSONB cannot hold U+0000; refuse it on every engine alike.
        raise BadRequest("Strings must not contain the NUL character (U+0000)", code="validation_error")
    return body


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    values = request.headers.getall("idempotency-key", [])
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest("Send one Idempotency-Key header, not several", field="Idempotency-Key")
    if not IDEMPOTENCY_KEY_RE.fullmatch(values[0]):
        raise BadRequest("Invalid value for `Idempotency-Key`: 1-255 visible ASCII characters (no spaces)",
                         field="Idempotency-Key")
    return values[0]


async def _user(request: Request[Any, Any, Any]) -> str:
    return await request.app.state.authenticator.admit(request.headers.get("authorization"))


def _service(request: Request[Any, Any, Any]) -> SessionService:
    return request.app.state.sessions


class SessionController(Controller):
    path = "/api/campaigns/ai-chat-sessions"

    @post("/", status_code=201)
    async def create(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        user_id = await _user(request)
        body = await _body(request, CreateSessionInput)
        return {"session": await _service(request).create(user_id, body)}

    @get("/")
    async def list_sessions(self, request: Request[Any, Any, Any], campaign_id: FromQuery[str | None] = None) -> dict[str, Any]:
        user_id = await _user(request)
        campaign = _check_uuid(campaign_id, "campaign_id", "query")
        return {"sessions": await _service(request).list(user_id, campaign)}

    @get("/{session_id:str}")
    async def fetch(self, request: Request[Any, Any, Any], session_id: FromPath[str]) -> dict[str, Any]:
        user_id = await _user(request)
        return {"session": await _service(request).get(user_id, _check_uuid(session_id, "id", "path"))}

    @patch("/{session_id:str}")
    async def update(self, request: Request[Any, Any, Any], session_id: FromPath[str]) -> dict[str, Any]:
        user_id = await _user(request)
        sid = _check_uuid(session_id, "id", "path")
        body = await _body(request, PatchSessionInput)
        return {"session": await _service(request).patch(user_id, sid, body)}

    @delete("/{session_id:str}", status_code=200)
    async def remove(self, request: Request[Any, Any, Any], session_id: FromPath[str]) -> dict[str, Any]:
        user_id = await _user(request)
        await _service(request).delete(user_id, _check_uuid(session_id, "id", "path"))
        return {"success": True}

    @post("/{session_id:str}/turn", status_code=202)
    async def turn(self, request: Request[Any, Any, Any], session_id: FromPath[str]) -> Response[Any]:
        user_id = await _user(request)
        sid = _check_uuid(session_id, "id", "path")
        body = await _body(request, TurnInput)
        dispatched = await _service(request).start_turn(user_id, sid, body, _idempotency_key(request))
        return _accepted(dispatched.run_id, dispatched.public_access_token)

    @post("/{session_id:str}/generate-examples", status_code=202)
    async def generate_examples(self, request: Request[Any, Any, Any], session_id: FromPath[str]) -> Response[Any]:
        user_id = await _user(request)
        sid = _check_uuid(session_id, "id", "path")
        body = await _body(request, ExamplesInput)
        dispatched = await _service(request).start_examples(user_id, sid, body, _idempotency_key(request))
        return _accepted(dispatched.run_id, dispatched.public_access_token)


def _accepted(run_id: str, token: str) -> Response[Any]:
    return Response({"runId": run_id, "publicAccessToken": token}, status_code=202)
