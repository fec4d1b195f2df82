"""Authentication as a guard, on every route unless the route says it is public and why.

The app installs :func:`require_api_key` globally, so a new route is protected by default. A route
opts out with ``opt={"public": "<why>"}`` (liveness, the contract, the Trigger.dev-compatible routes
that check public access tokens themselves); a test keeps the list of public routes explicit.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

PUBLIC = "public"


def public(reason: str) -> dict[str, Any]:
    """The ``opt`` of a route anyone may call, with the reason it needs no API key."""
    return {PUBLIC: reason}


async def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Resolve the caller's API key (401 otherwise), count it against its rate limit (429), and keep
    the user id for the handler (the ``user_id`` dependency)."""
    if handler.opt.get(PUBLIC):
        return
    container = connection.app.state.container
    connection.state.user_id = await container.auth.admit(connection.headers.get("authorization"),
                                                          client_address(connection))


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The caller's address (uvicorn takes it from X-Forwarded-For when the peer is a trusted proxy:
    FORWARDED_ALLOW_IPS, 127.0.0.1 by default)."""
    client = connection.scope.get("client")
    return client[0] if client else None
