"""The Litestar application factory and its lifespan (everything built once, at start-up)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request
from litestar.exceptions import HTTPException, MethodNotAllowedException

from api.auth import KeyAuthenticator
from api.ratelimit import build_limiter
from api.controllers.health import CONTRACT, contract, health
from api.controllers.realtime import realtime_router
from api.controllers.sessions import SessionController
from api.errors import api_error_handler, http_error_handler, internal_error_handler
from bridge.factory import build_bridge
from core.errors import ApiError
from core.settings import Settings
from jobs.llm import FrameworkLLM
from jobs.models import build_llm
from jobs.runtime import JobDeps
from ops import http as ops_http
from realtime.listeners import WakeChannel
from realtime.wiring import install_realtime
from services.sessions import SessionService
from store.db import Database
from store.migrate import upgrade

log = logging.getLogger("campaign_chat.api")


def create_app(settings: Settings | None = None, *, migrate: bool | None = None, llm: FrameworkLLM | None = None) -> Litestar:
    """Build the app. ``migrate`` defaults to True on SQLite (the embedded default migrates itself);
    ``llm`` replaces the model ``LLM_MODEL`` names (tests put a scripted model at that edge)."""
    settings = settings or Settings.from_env()
    run_migrations = settings.is_sqlite if migrate is None else migrate

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        if run_migrations:
            await upgrade(db)
        model = llm or build_llm(settings)
        deps = JobDeps(db=db, settings=settings, llm=model)
        channel = WakeChannel(settings)
        await channel.start()
        bridge = build_bridge(settings, deps, wake=channel.wake)
        await bridge.start()
        service = SessionService(db, bridge, settings)
        app.state.update(
            settings=settings,
            db=db,
            bridge=bridge,
            sessions=service,
            authenticator=KeyAuthenticator(db, ttl_seconds=settings.auth_cache_seconds, limiter=build_limiter(settings)),
            contract_bytes=CONTRACT.read_bytes(),
        )
        install_realtime(app.state, settings, db, bridge, channel, app.state.authenticator)
        log.info("campaign-chat ready: backend=%s model=%s database=%s", bridge.name, model.name, db.dialect)
        reaper = asyncio.create_task(_reap_forever(service, settings), name="lease-reaper")
        try:
            yield
        finally:
            reaper.cancel()
            await asyncio.gather(reaper, return_exceptions=True)
            await bridge.close()
            await channel.close()
            await app.state.authenticator.close()
            await db.dispose()

    app = Litestar(
        route_handlers=[health, contract, SessionController, realtime_router, *ops_http.routes(settings)],
        before_request=_refuse_undocumented_options,
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
    return ops_http.instrument(app, settings)


def _documented_methods(app: Litestar) -> dict[str, str]:
    """Path template -> the ``Allow`` value the contract documents (Litestar adds OPTIONS itself)."""
    allowed = {}
    for route in app.routes:
        methods = sorted(set(getattr(route, "methods", ())) - {"OPTIONS", "HEAD"})
        allowed[route.path_format] = ", ".join(methods)
    return allowed


async def _refuse_undocumented_options(request: Request[Any, Any, Any]) -> None:
    # The sessions API is called server-to-server with a secret key; it documents no OPTIONS/CORS.
    if request.method == "OPTIONS" and request.url.path.startswith("/api/campaigns/"):
        allow = request.app.state.allowed_methods.get(request.scope.get("path_template", ""), "")
        raise MethodNotAllowedException(headers={"Allow": allow})


async def _reap_forever(service: SessionService, settings: Settings) -> None:
    interval = max(1.0, min(30.0, settings.claim_lease_seconds / 4))
    while True:
        await asyncio.sleep(interval)
        try:
            reaped = await service.reap_expired()
            if reaped:
                log.warning("lease reaper freed %d expired claims", reaped)
        except Exception:  # noqa: BLE001 - a failed sweep is retried on the next tick
            log.exception("lease reaper failed")
