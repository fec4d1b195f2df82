"""``/api/campaigns/ai-chat-sessions``: each handler takes a decoded body and calls one service method.

Authentication is the app-wide guard (``api/guards.py``); each handler declares one dependency
(``api/deps.py``): the ``caller`` (user id + the sessions service), or on a route with a body the
``call`` (the caller and the decoded body).
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery

from api.deps import Call, CallerOf, CallOf, json_body
from core.errors import BadRequest
from core.payloads import (DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, UUID_RE, CreateSessionInput, ExamplesInput,
                           PatchSessionInput, TurnInput)

_uuid = re.compile(UUID_RE)
# Visible ASCII only (no spaces: proxies may trim them), 1-255 characters, as the contract documents.
IDEMPOTENCY_KEY_RE = re.compile(r"[!-~]{1,255}")


def _check_uuid(value: str | None, name: str, where: str) -> str:
    """The UUID in canonical lower case: ids are case-insensitive (the contract's pattern admits A-F),
    and everything is stored and compared in lower case."""
    if value is None or value == "":
        raise BadRequest(f"Missing required {where} parameter `{name}`", field=name)
    if not _uuid.match(value):
        raise BadRequest(f"Invalid value for `{name}`: expected a UUID", field=name)
    return value.lower()


def _list_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIST_LIMIT
    # int() refuses more than 4,300 digits, leading zeros included (a 500 once): read the number without them
    digits = value.lstrip("0") or "0"
    if not value.isascii() or not value.isdigit() or len(digits) > 3 or not 1 <= int(digits) <= MAX_LIST_LIMIT:
        raise BadRequest(f"Invalid value for `limit`: an integer from 1 to {MAX_LIST_LIMIT}", field="limit")
    return int(digits)


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


def _accepted(run_id: str, token: str) -> Response[Any]:
    return Response({"runId": run_id, "publicAccessToken": token}, status_code=202)


class SessionController(Controller):
    path = "/api/campaigns/ai-chat-sessions"

    @post("/", status_code=201, dependencies={"call": json_body(CreateSessionInput)})
    async def create(self, call: CallOf[Call[CreateSessionInput]]) -> dict[str, Any]:
        return {"session": await call.sessions.create(call.user_id, call.body)}

    @get("/")
    async def list_sessions(self, caller: CallerOf, campaign_id: FromQuery[str | None] = None,
                            limit: FromQuery[str | None] = None, cursor: FromQuery[str | None] = None) -> dict[str, Any]:
        rows, next_cursor = await caller.sessions.list(caller.user_id, _check_uuid(campaign_id, "campaign_id", "query"),
                                                       limit=_list_limit(limit), cursor=cursor)
        return {"sessions": rows, "next_cursor": next_cursor}

    @get("/{session_id:str}")
    async def fetch(self, caller: CallerOf, session_id: FromPath[str]) -> dict[str, Any]:
        return {"session": await caller.sessions.get(caller.user_id, _check_uuid(session_id, "id", "path"))}

    @patch("/{session_id:str}", dependencies={"call": json_body(PatchSessionInput)})
    async def update(self, call: CallOf[Call[PatchSessionInput]], session_id: FromPath[str]) -> dict[str, Any]:
        return {"session": await call.sessions.patch(call.user_id, _check_uuid(session_id, "id", "path"), call.body)}

    @delete("/{session_id:str}", status_code=200)
    async def remove(self, caller: CallerOf, session_id: FromPath[str]) -> dict[str, Any]:
        await caller.sessions.delete(caller.user_id, _check_uuid(session_id, "id", "path"))
        return {"success": True}

    @post("/{session_id:str}/turn", status_code=202, dependencies={"call": json_body(TurnInput)})
    async def turn(self, request: Request[Any, Any, Any], call: CallOf[Call[TurnInput]],
                   session_id: FromPath[str]) -> Response[Any]:
        sid = _check_uuid(session_id, "id", "path")
        dispatched = await call.sessions.start_turn(call.user_id, sid, call.body, _idempotency_key(request))
        return _accepted(dispatched.run_id, dispatched.public_access_token)

    @post("/{session_id:str}/generate-examples", status_code=202, dependencies={"call": json_body(ExamplesInput)})
    async def generate_examples(self, request: Request[Any, Any, Any], call: CallOf[Call[ExamplesInput]],
                                session_id: FromPath[str]) -> Response[Any]:
        sid = _check_uuid(session_id, "id", "path")
        dispatched = await call.sessions.start_examples(call.user_id, sid, call.body, _idempotency_key(request))
        return _accepted(dispatched.run_id, dispatched.public_access_token)
