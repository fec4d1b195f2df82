"""Dependencies handlers declare by name: the caller (user id + services), with the decoded body.

Each handler declares ONE dependency: ``caller`` (:class:`Caller`), or on a route with a body
``call`` (:class:`Call`, the caller and the body decoded by :func:`json_body`). Litestar resolves
several dependencies of the same level in an anyio task group, a task per dependency: for a poll
that cost a poll about a fifth of its server CPU (``bench/poll_cost.py``: 0.63-0.83 -> 0.45-0.60 ms per GET).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from api.container import Container
from api.errors import decode_error
from core.errors import BadRequest, UnsupportedMediaType
from core.payloads import MAX_JSON_DEPTH, nests_deeper_than
from services.sessions import SessionService

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls (the user id the API-key guard admitted) and the service their calls go to."""

    user_id: str
    sessions: SessionService


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """A call with a body: the caller and the request body decoded into ``T``."""

    user_id: str
    sessions: SessionService
    body: T


# What handlers declare: each name is provided below (or by a route's ``dependencies=``).
Services = NamedDependency[Container]
CallerOf = NamedDependency[Caller]  # caller: CallerOf
CallOf = NamedDependency  # call: CallOf[Call[TurnInput]], provided by the route's json_body(TurnInput)


def container(state: State) -> Container:
    return state.container


def current_caller(request: Request[Any, Any, Any]) -> Caller:
    """The user id is set by the API-key guard, which runs before any dependency is resolved."""
    return Caller(request.state.user_id, request.app.state.container.sessions)


def json_body(kind: type[T]) -> Provide:
    """A ``call`` dependency: the caller, and the request body decoded into the strict struct ``kind``
    (400 naming the field).

    Refused with 400 before the decoder sees them: bodies nested deeper than ``MAX_JSON_DEPTH`` and
    bytes that are not UTF-8 (both used to escape the decoder as exceptions, i.e. 500s)."""
    decoder = msgspec.json.Decoder(kind)

    async def decode(request: Request[Any, Any, Any]) -> Call[T]:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            raise UnsupportedMediaType(f"Send the body as application/json, not {media_type}")
        raw = await request.body()
        if not raw:
            raise BadRequest("Request body is empty: send a JSON object", code="invalid_json")
        if nests_deeper_than(raw, MAX_JSON_DEPTH):
            raise BadRequest(f"Request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
                             code="validation_error")
        try:
            body = decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise decode_error(exc) from None
        except UnicodeDecodeError:
            raise BadRequest("Request body is not valid UTF-8", code="invalid_json") from None
        if b"\\u0000" in raw and _has_nul(msgspec.to_builtins(body)):
            # PostgreSQL text and JSONB cannot hold U+0000; refuse it on every engine alike. Checked on
            # what was decoded, so keys the contract ignores (a lead's extra columns) do not count.
            raise BadRequest("Strings must not contain the NUL character (U+0000)", code="validation_error")
        caller = current_caller(request)
        return Call(caller.user_id, caller.sessions, body)

    return Provide(decode)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


SERVICES = {
    "container": Provide(container, sync_to_thread=False),
    "caller": Provide(current_caller, sync_to_thread=False),
}
