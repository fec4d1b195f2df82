"""Map every exception to the published error body ``{"error", "code", ...details}``."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from api.cors import cors_headers, is_realtime
from core.errors import ApiError, BadRequest
from store.migrate import is_missing_schema

log = logging.getLogger("campaign_chat.api")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=body, status_code=status, headers=headers or {}, media_type="application/json")


def api_error_handler(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _response(exc.status, exc.body(), exc.headers)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Routing and framework errors (unknown route, method, malformed path) as our JSON error; on the
    realtime paths with their CORS headers, as every answer there."""
    status = exc.status_code
    realtime = is_realtime(request.url.path)
    cors = cors_headers(request) if realtime else {}
    if isinstance(exc, ValidationException):
        return _response(400, {"error": exc.detail, "code": "validation_error"}, cors)
    if isinstance(exc, NotFoundException):
        return _response(404, {"error": "No such route", "code": "not_found"}, cors)
    # Keep the exception's headers: a 405 must carry Allow. Litestar lists OPTIONS (and may list HEAD)
    # on every route; only the realtime routes answer OPTIONS (api/app.py refuses it elsewhere), and
    # none answers HEAD. Litestar may spell the header either way.
    headers = {("Allow" if name.lower() == "allow" else name): value for name, value in (exc.headers or {}).items()}
    if status == 405 and "Allow" in headers:
        refused = ("HEAD",) if realtime else ("OPTIONS", "HEAD")
        headers["Allow"] = ", ".join(m.strip() for m in headers["Allow"].split(",") if m.strip() not in refused)
    return _response(status, {"error": exc.detail, "code": _CODES.get(status, "http_error")}, {**headers, **cors})


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = request.scope.get("state", {}).get("request_id", "")
    if is_missing_schema(exc):
        return not_migrated(request_id)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"error": "Internal server error", "code": "internal_error", "request_id": request_id}
    return _response(HTTP_500_INTERNAL_SERVER_ERROR, body)


NOT_MIGRATED_MESSAGE = "The database is not migrated for this release: run `campaign-chat migrate`"


def not_migrated(request_id: str) -> Response[Any]:
    """A table or column this release uses is missing: say so plainly (one log line, no traceback)."""
    log.error("the database is not migrated for this release: run `campaign-chat migrate`")
    return _response(503, {"error": NOT_MIGRATED_MESSAGE, "code": "not_migrated", "request_id": request_id})


def decode_error(exc: msgspec.ValidationError | msgspec.DecodeError) -> BadRequest:
    """msgspec's message already names the path (``… - at `$.message```); surface it as the field."""
    text = str(exc)
    field = None
    if " - at `" in text:
        text, _, path = text.partition(" - at `")
        field = path.rstrip("`").removeprefix("$.").removeprefix("$") or None
    if text.startswith("Object contains unknown field `"):
        name = text.split("`")[1]
        field = f"{field}.{name}" if field else name
        text = f"unknown field `{name}` (not in the published contract)"
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return BadRequest(f"Request body is not valid JSON: {text}", code="invalid_json")
    message = f"Invalid value for `{field}`: {text}" if field else f"Invalid request body: {text}"
    return BadRequest(message, **({"field": field} if field else {}))
