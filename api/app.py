"""The Litestar application factory and its one lifespan (everything built once, at start-up)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, MethodNotAllowedException
from litestar.handlers.base import BaseRouteHandler

from api.container import running
from api.controllers.ops import contract, health, metrics_endpoint, private_bind, ready
from api.controllers.realtime import realtime_router
from api.cors import CORS_PREFLIGHT
from api.controllers.sessions import SessionController
from api.deps import SERVICES
from api.errors import api_error_handler, http_error_handler, internal_error_handler
from api.guards import require_api_key
from api.middleware import RequestMiddleware
from core.errors import ApiError
from core.settings import Settings
from jobs.llm import FrameworkLLM
from ops import metrics, tracing

log = logging.getLogger("campaign_chat.api")


def create_app(settings: Settings | None = None, *, migrate: bool | None = None, llm: FrameworkLLM | None = None) -> Litestar:
    """Build the app. ``migrate`` defaults to True on SQLite (the embedded default migrates itself);
    ``llm`` replaces the model ``LLM_MODEL`` names (tests put a scripted model at that edge)."""
    settings = settings or Settings.from_env()
    run_migrations = settings.is_sqlite if migrate is None else migrate

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            container = await stack.enter_async_context(running(settings, migrate=run_migrations, llm=llm))
            app.state.container = container
            if settings.metrics_enabled and settings.metrics_port:
                await _start_metrics_port(stack, container)
            stack.callback(tracing.flush)
            stack.callback(metrics.process_exited)  # multiprocess mode: this process's gauges stop counting
            yield

    handlers: list[Any] = [health, contract, ready, SessionController, realtime_router]
    if settings.metrics_enabled and not settings.metrics_port:
        handlers.append(metrics_endpoint)
    app = Litestar(
        route_handlers=handlers,
        guards=[_refuse_undocumented_options, require_api_key],  # a refused method before any key check
        dependencies=SERVICES,
        lifespan=[lifespan],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        openapi_config=None,
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # ops.logs configures logging once per process (structured)
    )
    app.state.allowed_methods = _documented_methods(app)
    app.asgi_handler = RequestMiddleware(app.asgi_handler)
    return app


async def _start_metrics_port(stack: contextlib.AsyncExitStack, container: Any) -> None:
    from ops.metrics_server import MetricsServer

    settings = container.settings
    authorize = None if private_bind(settings.host) else container.auth.user_for
    server = MetricsServer(container.busy_sessions, host=settings.host, port=settings.metrics_port,
                           authorize=authorize, redis=container.redis,
                           queue_name=settings.arq_queue_name if container.redis is not None else None)
    await server.start()
    stack.push_async_callback(server.close)


def _documented_methods(app: Litestar) -> dict[str, str]:
    """Path template -> the ``Allow`` value the contract documents (Litestar adds OPTIONS itself)."""
    allowed = {}
    for route in app.routes:
        methods = sorted(set(getattr(route, "methods", ())) - {"OPTIONS", "HEAD"})
        allowed[route.path_format] = ", ".join(methods)
    return allowed


async def _refuse_undocumented_options(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    # Only the Trigger.dev-compatible routes answer OPTIONS (browsers preflight them). The sessions API
    # is called server-to-server with a secret key and documents no OPTIONS/CORS, nor do the probes.
    if connection.scope.get("method") == "OPTIONS" and not handler.opt.get(CORS_PREFLIGHT):
        allow = connection.app.state.allowed_methods.get(connection.scope.get("path_template", ""), "")
        raise MethodNotAllowedException(headers={"Allow": allow})
