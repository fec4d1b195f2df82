"""Dependencies handlers declare by name: the caller's user id, the services, decoded bodies."""

from __future__ import annotations

from typing import Any, TypeVar

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

# What handlers declare: each name is provided below (or by a route's ``dependencies=``).
UserId = NamedDependency[str]
Sessions = NamedDependency[SessionService]
Services = NamedDependency[Container]
Body = NamedDependency  # Body[TurnInput]: the decoded ``request_data`` of the route


def container(state: State) -> Container:
    return state.container


def current_user(request: Request[Any, Any, Any]) -> str:
    """Set by the API-key guard, which runs before any dependency is resolved."""
    return request.state.user_id


def session_service(state: State) -> SessionService:
    return state.container.sessions


def json_body(kind: type[T]) -> Provide:
    """A dependency that decodes the request body into the strict struct ``kind`` (400 naming the field).

    Refused with 400 before the decoder sees them: bodies nested deeper than ``MAX_JSON_DEPTH`` and
    bytes that are not UTF-8 (both used to escape the decoder as exceptions, i.e. 500s)."""
    decoder = msgspec.json.Decoder(kind)

    async def decode(request: Request[Any, Any, Any]) -> T:
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
        return body

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
    "user_id": Provide(current_user, sync_to_thread=False),
    "sessions": Provide(session_service, sync_to_thread=False),
}
