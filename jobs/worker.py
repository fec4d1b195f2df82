"""The ARQ worker: runs queued tasks through :func:`jobs.entry.execute`, like every other launcher.

Safety rules, and where they come from:

* ARQ's job timeout sits between our own deadline (``job_timeout_seconds``, enforced by
  ``run_guarded``) and the claim lease, so a turn always ends, and is recorded, before its claim can
  be taken over.
* A redelivered job (ARQ retries a job cancelled by a shutdown) finds its run no longer PENDING:
  ``runtime.begin`` refuses it, so a retry can never apply a turn twice.
* SIGTERM/SIGINT stop picking jobs, give running turns ``worker_shutdown_grace_seconds`` to finish,
  then cancel the rest; ``run_guarded`` records those as INTERRUPTED and releases their claims
  before the process exits.
* Redis lost: ARQ's own poll loop ends the process on the first Redis error; ``ResilientWorker``
  keeps polling (every ``REDIS_RETRY_SECONDS``) and picks jobs again once Redis answers, so a Redis
  restart needs no worker restart.
* Health: ARQ refreshes ``<queue>:health-check`` every ``HEALTH_CHECK_INTERVAL`` seconds
  (``campaign-chat worker --check`` reads it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from arq import Worker
from arq.worker import func
from redis.exceptions import RedisError

from bridge.arq import JOB_FUNCTION, cancel_mark_key, redis_client
from core.ids import utcnow
from core.payloads import PayloadEnvelope
from core.settings import Settings
from jobs.entry import execute_raw
from jobs.models import build_llm
from jobs.reporter import RunReporter
from jobs.runtime import CANCEL_MESSAGE, JobDeps, last_run, task_error
from jobs.wake import build_wake
from store import runs, sessions
from store.db import Database

log = logging.getLogger("campaign_chat.worker")

HEALTH_CHECK_INTERVAL = 10
MAX_TRIES = 3
REDIS_RETRY_SECONDS = 1.0


def health_check_key(queue_name: str) -> str:
    return f"{queue_name}:health-check"


def arq_timeout_seconds(settings: Settings) -> float:
    """Past our own deadline (so ``run_guarded`` records TIMED_OUT first) and short of the claim lease."""
    return settings.job_timeout_seconds + (settings.claim_lease_seconds - settings.job_timeout_seconds) / 2


async def run_task(ctx: dict[str, Any], raw: dict[str, Any]) -> bool:
    """The ARQ job function. Returns False when there was nothing to run (already started or gone)."""
    deps: JobDeps = ctx["deps"]
    payload = msgspec.convert(raw, PayloadEnvelope)
    mark = cancel_mark_key(deps.settings.arq_queue_name, payload.run_id)
    if await ctx["redis"].exists(mark):
        await cancel_unstarted(deps, payload)
        return False
    reporter = RunReporter(deps.db, payload.run_id, wake=ctx.get("wake"))
    job = asyncio.create_task(execute_raw(deps, raw, reporter), name=f"run:{payload.run_id}")
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        # Shutdown or an abort: tell the job which, so it records INTERRUPTED or CANCELED, and wait for
        # it to write that and release its claim before the worker moves on (or exits).
        requested = await _cancel_requested(ctx, mark)
        log.info("run %s: %s; recording it", payload.run_id, "cancel requested" if requested else "worker stopping")
        job.cancel(CANCEL_MESSAGE if requested else None)
        await asyncio.gather(job, return_exceptions=True)
        log.info("run %s: stopped and recorded", payload.run_id)
        raise


async def _cancel_requested(ctx: dict[str, Any], mark: str) -> bool:
    try:
        return bool(await ctx["redis"].exists(mark))
    except Exception:  # noqa: BLE001 - Redis gone during shutdown: treat as a shutdown, not a user cancel
        return False


async def cancel_unstarted(deps: JobDeps, payload: PayloadEnvelope) -> None:
    """A run canceled while queued: mark it CANCELED and free its session, if it never started."""
    now = utcnow()
    async with deps.db.write() as conn:
        run = await runs.get(conn, payload.run_id)
        if run is None or run["status"] != "PENDING":
            return
        task = run["task"]
        await runs.finish(conn, payload.run_id, status="CANCELED", now=now,
                          error=task_error("canceled", "the run was canceled before it started"))
        await sessions.release(conn, session_id=payload.session_id, claim_run_id=payload.run_id, now=now,
                               last_run=last_run(run["external_id"] or payload.run_id, task, "canceled", now,
                                                 ("canceled", "the run was canceled before it started")))


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    db = Database(settings.database_url)
    wake, close_wake = await build_wake(settings)
    ctx.update(deps=JobDeps(db=db, settings=settings, llm=build_llm(settings)), wake=wake, close_wake=close_wake)
    log.info("worker ready: queue=%s database=%s concurrency=%d", settings.arq_queue_name, db.dialect,
             settings.worker_concurrency)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "close_wake" in ctx:
        await ctx["close_wake"]()
    if "deps" in ctx:
        await ctx["deps"].db.dispose()


class ResilientWorker(Worker):
    """ARQ's worker, except that a lost Redis pauses polling instead of ending the process."""

    _redis_lost = False

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            if not self._redis_lost:
                log.warning("Redis unreachable (%s: %s); retrying every %.0fs", type(exc).__name__, exc,
                            REDIS_RETRY_SECONDS)
            self._redis_lost = True
            await asyncio.sleep(REDIS_RETRY_SECONDS)
            return
        if self._redis_lost:
            self._redis_lost = False
            log.info("Redis is reachable again; picking jobs")


def create_worker(settings: Settings, *, handle_signals: bool = True, burst: bool = False) -> Worker:
    """An ARQ worker for ``settings``' Redis and queue (build it inside the loop that will run it)."""
    return ResilientWorker(
        functions=[func(run_task, name=JOB_FUNCTION, max_tries=MAX_TRIES, timeout=arq_timeout_seconds(settings))],
        queue_name=settings.arq_queue_name,
        redis_pool=redis_client(settings.redis_url),
        ctx={"settings": settings},
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=settings.worker_concurrency,
        job_completion_wait=settings.worker_shutdown_grace_seconds,
        handle_signals=handle_signals,
        burst=burst,
        allow_abort_jobs=True,
        keep_result=max(3_600, settings.claim_lease_seconds * 2),
        health_check_interval=HEALTH_CHECK_INTERVAL,
        health_check_key=health_check_key(settings.arq_queue_name),
        poll_delay=0.2,
    )


async def check_health(settings: Settings) -> tuple[bool, str]:
    """(healthy, detail): a worker on this queue refreshed its health key within the interval."""
    redis = redis_client(settings.redis_url)
    try:
        value = await redis.get(health_check_key(settings.arq_queue_name))
    except Exception as exc:  # noqa: BLE001 - any failure to read means "not healthy", with the reason
        return False, f"Redis unreachable: {type(exc).__name__}: {exc}"
    finally:
        await redis.aclose()
    if value is None:
        return False, f"no worker has reported on queue {settings.arq_queue_name!r} in the last {HEALTH_CHECK_INTERVAL}s"
    return True, value.decode(errors="replace")

