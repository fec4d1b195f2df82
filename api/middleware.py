"""The request middleware: the outermost ASGI layer, around routing.

Every request, 404s and 405s included, gets a request id (``X-Request-Id`` in and out), one access
log line, a request span, and a count by route *template* (never the raw path: ids would explode the
label set) and status. Every response carries ``X-Content-Type-Options: nosniff`` and, unless the
handler chose otherwise, ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from core.ids import new_request_id
from ops import metrics, tracing
from ops.logs import bound

log = logging.getLogger("campaign_chat.http")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")
_QUIET_ROUTES = {"/health", "/health/ready", "/metrics"}  # probes and scrapes: counted, not logged at INFO


# On every response: no MIME sniffing of our JSON, and nothing kept by caches (every answer is per
# caller and per moment: sessions, tokens, run states). A handler that sets its own Cache-Control keeps it.
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


def _with_standard_headers(headers: list[tuple[bytes, bytes]], request_id: str) -> list[tuple[bytes, bytes]]:
    out = [*headers, (b"x-request-id", request_id.encode()), _NOSNIFF]
    if not any(name.lower() == b"cache-control" for name, _ in headers):
        out.append(_NO_STORE)
    return out


class RequestMiddleware:
    """Outermost ASGI layer: request id, access log, request metrics and the request span."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        incoming = headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope.get("method", "GET")
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_standard_headers(message.get("headers") or [], request_id)
            await send(message)

        with bound(request_id=request_id), tracing.continued(headers), \
                tracing.span(f"HTTP {method}", kind="server", request_id=request_id) as span:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = scope.get("path_template") or "unmatched"
                elapsed = time.perf_counter() - began
                metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
                metrics.HTTP_DURATION.labels(route, method).observe(elapsed)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                session_id = (scope.get("path_params") or {}).get("session_id")
                level = logging.DEBUG if route in _QUIET_ROUTES and status < 400 else logging.INFO
                fields = {"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 1)}
                log.log(level, "request", extra={**fields, **({"session_id": session_id} if session_id else {})})
