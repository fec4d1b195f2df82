"""Liveness, readiness, the published contract and ``/metrics``."""

from __future__ import annotations

import ipaddress
from typing import Any

from litestar import Request, Response, get

from api.deps import Services
from api.guards import client_address, public
from core.errors import Unavailable
from ops import metrics, probes


@get("/health", sync_to_thread=False, opt=public("liveness probe"))
def health() -> dict[str, Any]:
    return {"status": "ok"}


@get("/openapi.yaml", include_in_schema=False, opt=public("the published contract"))
async def contract(container: Services) -> Response[bytes]:
    return Response(container.contract, media_type="application/yaml")


@get("/health/ready", opt=public("readiness probe: names failing dependencies, nothing else"))
async def ready(container: Services) -> dict[str, Any]:
    """200 when every dependency answers; 503 naming the failing ones otherwise."""
    checks = await container.readiness()
    failing = sorted(name for name, result in checks.items() if result != "ok")
    unmigrated = [result.removeprefix("error: ") for result in checks.values() if result.startswith(probes.NOT_MIGRATED)]
    if unmigrated:
        raise Unavailable(f"Not ready: the database is {unmigrated[0]}", code="not_migrated", failing=failing,
                          checks=checks)
    if failing:
        raise Unavailable(f"Not ready: {', '.join(failing)} unavailable", failing=failing, checks=checks)
    return {"status": "ok", "checks": checks}


def private_bind(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private and not address.is_unspecified


@get("/metrics", include_in_schema=False, opt=public("open on private addresses; otherwise checks the key itself"))
async def metrics_endpoint(request: Request[Any, Any, Any], container: Services) -> Response[bytes]:
    """Prometheus exposition. Open when the service and this connection are on private addresses;
    otherwise a valid API key is required (``Authorization: Bearer``)."""
    settings = container.settings
    server = request.scope.get("server") or ("", 0)
    if not (private_bind(settings.host) and private_bind(str(server[0]))):
        await container.auth.user_for(request.headers.get("authorization"), client_address(request))
    queue = settings.arq_queue_name if container.redis is not None else None
    body, content_type = await metrics.render(container.busy_sessions, redis=container.redis, queue_name=queue)
    return Response(body, media_type=content_type)
