"""Everything a running API needs, built once from :class:`Settings` at start-up: the container.

Handlers never build anything: they receive what they need from here through Litestar
``dependencies=`` (see ``api/deps.py``). The backend is decided here, once; so is whether Redis is
used (``TASK_BACKEND=arq``: one client for the queue, wake-ups, rate limits and probes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.base import Bridge
from bridge.factory import build_bridge, token_signer
from bridge.tokens import TokenSigner, local_secret
from core.cancel import cancel_until_done
from core.errors import NotMigrated
from core.settings import Settings
from jobs.guard import JobDeps
from jobs.llm import FrameworkLLM
from ops import metrics, probes
from services.auth import KeyAuthenticator
from services.ratelimit import FailureThrottle, build_limiter
from services.reaper import Reaper
from services.realtime.access import AccessChecker
from services.realtime.control import RunControl
from services.realtime.feed import RunFeed
from services.sessions import SessionService
from store import sessions as session_store
from store.db import Database
from store.migrate import require_schema, upgrade
from store.redis import redis_client
from store.wake import WakeChannel

log = logging.getLogger("campaign_chat.api")

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "openapi.yaml"


@dataclass(frozen=True)
class Container:
    settings: Settings
    db: Database
    redis: Any | None  # an ArqRedis client when TASK_BACKEND=arq
    wake: WakeChannel
    bridge: Bridge
    signer: TokenSigner  # mints the tokens /turn returns
    auth: KeyAuthenticator
    sessions: SessionService
    reaper: Reaper
    access: AccessChecker
    feed: RunFeed
    control: RunControl
    contract: bytes
    database_ready: probes.Ping

    async def busy_sessions(self) -> int:
        return await self.db.run_read(session_store.count_busy)

    async def readiness(self) -> dict[str, str]:
        pings: dict[str, probes.Ping] = {"database": self.database_ready}
        if self.redis is not None:
            pings["redis"] = self.redis.ping
        return await probes.check(pings)


class DatabaseProbe:
    """Readiness of the database: it answers and holds this release's schema. Once the schema was seen
    right it stays right (migrations only move forward), so later probes are a plain ping."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._schema_ok = False

    async def __call__(self) -> None:
        if self._schema_ok:
            await self._db.ping()
            return
        await require_schema(self._db)  # its query is the ping
        self._schema_ok = True


@asynccontextmanager
async def running(settings: Settings, *, migrate: bool, llm: FrameworkLLM | None = None) -> AsyncIterator[Container]:
    """Build the container, start its background work, and take it all down again on exit."""
    async with AsyncExitStack() as stack:
        db = Database(settings.database_url, idle_in_transaction_seconds=settings.claim_lease_seconds)
        metrics.count_statements(db.sync_engines(), "api")
        stack.push_async_callback(db.dispose)
        if migrate:
            await upgrade(db)
        else:
            await _say_if_not_migrated(db)
        redis = redis_client(settings.redis_url) if settings.uses_redis else None
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        wake = WakeChannel(settings, db, redis)
        await wake.start()
        stack.push_async_callback(wake.close)
        signer = token_signer(settings, local_secret(settings.public_token_secret, settings.data_dir))
        verifier = TokenSigner(secret=local_secret(settings.public_token_secret, settings.data_dir),
                               env_id=settings.public_token_env_id, ttl_seconds=settings.public_token_ttl_seconds)
        deps = None
        if settings.task_backend == "inline" and (llm is not None or not settings.embedded_worker):
            from jobs.llm_factory import build_llm  # heavy imports: only where turns run

            deps = JobDeps(db=db, settings=settings, llm=llm or build_llm(settings), wake=wake.wake)
        bridge = build_bridge(settings, deps=deps, signer=signer, redis=redis, wake_here=wake.hub.deliver)
        await bridge.start()
        stack.push_async_callback(bridge.close)
        if settings.task_backend == "inline":
            # A cancel request published by another instance stops the run if it executes here.
            wake.hub.on_cancel(bridge.cancel)
        auth = KeyAuthenticator(db, ttl_seconds=settings.auth_cache_seconds, limiter=build_limiter(settings, redis),
                                failures=FailureThrottle(settings.auth_failures_per_minute))
        access = AccessChecker(verifier=verifier, keys=auth)
        container = Container(
            settings=settings, db=db, redis=redis, wake=wake, bridge=bridge, signer=signer, auth=auth,
            sessions=SessionService(db, bridge, settings, signer, wake.wake),
            reaper=Reaper(db, settings, wake.wake, bridge.forget),
            access=access, feed=RunFeed(db, wake.hub, access, per_caller=settings.realtime_connections_per_token),
            control=RunControl(db, bridge, access, wake.wake),
            contract=CONTRACT.read_bytes(), database_ready=DatabaseProbe(db),
        )
        reaper = asyncio.create_task(container.reaper.run_forever(), name="lease-reaper")
        stack.push_async_callback(_stop, reaper)
        where = "this process" if deps else ("the embedded worker" if settings.task_backend == "inline" else "workers")
        log.info("campaign-chat ready: backend=%s model=%s turns run in %s database=%s", bridge.name,
                 settings.llm_model if deps is None else deps.llm.name, where, db.dialect)
        yield container


async def _say_if_not_migrated(db: Database) -> None:
    """One plain line at start-up when the schema is missing or another release's (the API still starts:
    /health/ready answers 503 not_migrated until `campaign-chat migrate` has run)."""
    try:
        await require_schema(db)
    except NotMigrated as exc:
        log.error("database %s", exc)
    except Exception as exc:  # noqa: BLE001 - unreachable now: readiness reports it, requests fail clearly
        log.warning("database not checked at start-up: %s", type(exc).__name__)


async def _stop(task: asyncio.Task[Any]) -> None:
    await cancel_until_done(task)
