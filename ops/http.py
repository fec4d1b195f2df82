"""HTTP side of observability: the request middleware, ``/metrics`` and ``/health/ready``.

:func:`instrument` wraps the whole Litestar ASGI handler (outside routing), so every request —
404s and 405s included — gets a request id (``X-Request-Id`` in and out), one access log line,
a request span, and a count by route *template* (never the raw path: ids would explode the
label set) and status.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from typing import Any

from litestar import Litestar, Request, Response, get

from core.errors import Unavailable
from core.ids import new_request_id
from core.settings import Settings
from ops import metrics, tracing
from ops.logs import bound
from ops.probes import Probes

log = logging.getLogger("campaign_chat.http")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")
_QUIET_ROUTES = {"/health", "/health/ready", "/metrics"}  # probes and scrapes: counted, not logged at INFO


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
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
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


def _private_bind(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private and not address.is_unspecified


@get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus exposition. Open when the service and this connection are on private addresses;
    otherwise a valid API key is required (``Authorization: Bearer``)."""
    state = request.app.state
    settings: Settings = state.settings
    server = request.scope.get("server") or ("", 0)
    if not (_private_bind(settings.host) and _private_bind(str(server[0]))):
        await state.authenticator.user_for(request.headers.get("authorization"))
    probes: Probes = state.probes
    queue = settings.arq_queue_name if probes.uses_redis else None
    body, content_type = await metrics.render(state.db, redis=await probes.redis_client(), queue_name=queue)
    return Response(body, media_type=content_type)


@get("/health/ready")
async def ready(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """200 when every dependency answers; 503 naming the failing ones otherwise."""
    checks = await request.app.state.probes.check(request.app.state.db)
    failing = sorted(name for name, result in checks.items() if result != "ok")
    if failing:
        raise Unavailable(f"Not ready: {', '.join(failing)} unavailable", failing=failing, checks=checks)
    return {"status": "ok", "checks": checks}


def routes(settings: Settings) -> list[Any]:
    """Readiness always; ``/metrics`` here unless disabled or moved to ``CAMPAIGN_CHAT_METRICS_PORT``."""
    return [ready, metrics_endpoint] if settings.metrics_enabled and not settings.metrics_port else [ready]


def instrument(app: Litestar, settings: Settings) -> Litestar:
    """Wrap the app's ASGI handler with the request middleware; set up probes closed at shutdown."""
    probes = Probes(settings)
    app.state.probes = probes
    app.on_shutdown.append(probes.close)
    app.on_shutdown.append(tracing.flush)
    app.on_shutdown.append(_process_exited)
    app.asgi_handler = RequestMiddleware(app.asgi_handler)
    if settings.metrics_enabled and settings.metrics_port:
        app.on_startup.append(_start_metrics_port)
        app.on_shutdown.append(_stop_metrics_port)
    return app


async def _start_metrics_port(app: Litestar) -> None:
    from ops.metrics_server import MetricsServer

    settings: Settings = app.state.settings
    probes: Probes = app.state.probes
    authorize = None if _private_bind(settings.host) else app.state.authenticator.user_for
    server = MetricsServer(app.state.db, host=settings.host, port=settings.metrics_port, authorize=authorize,
                           redis=await probes.redis_client(),
                           queue_name=settings.arq_queue_name if probes.uses_redis else None)
    await server.start()
    app.state.metrics_server = server


def _process_exited() -> None:
    metrics.process_exited()  # multiprocess mode: this process's live gauges stop counting


async def _stop_metrics_port(app: Litestar) -> None:
    server = getattr(app.state, "metrics_server", None)
    if server is not None:
        await server.close()
