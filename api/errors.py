"""Map every exception to the published error body ``{"error", "code", ...details}``."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.errors import ApiError, BadRequest

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


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        return _response(400, {"error": exc.detail, "code": "validation_error"})
    if isinstance(exc, NotFoundException):
        return _response(404, {"error": "No such route", "code": "not_found"})
    # Keep the exception's headers: a 405 must carry Allow (minus the OPTIONS Litestar adds by itself).
    headers = dict(exc.headers or {})
    if status == 405 and "Allow" in headers:
        headers["Allow"] = ", ".join(m.strip() for m in headers["Allow"].split(",") if m.strip() not in ("OPTIONS", "HEAD"))
    return _response(status, {"error": exc.detail, "code": _CODES.get(status, "http_error")}, headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"error": "Internal server error", "code": "internal_error", "request_id": request_id}
    return _response(HTTP_500_INTERNAL_SERVER_ERROR, body)


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
