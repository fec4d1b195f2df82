"""ARQ backend, execute side: ``campaign-chat worker`` runs queued tasks through :func:`jobs.execute.execute_raw`.

Safety rules, and where they come from:

* ARQ's job timeout sits past our own deadline (``job_timeout_seconds``, enforced by
  :mod:`jobs.guard`), so a turn always ends, and is recorded, by our code first.
* A redelivered job (ARQ retries a job cut short by a shutdown) finds its run no longer PENDING:
  :func:`store.lifecycle.start_run` refuses it, so a retry can never apply a turn twice.
* SIGTERM/SIGINT: ARQ stops picking jobs, gives running turns ``worker_shutdown_grace_seconds`` to
  finish, then cancels the rest; each records INTERRUPTED and releases its claim, and the process
  waits for every one of those records before it closes its connections and exits.
* A cancel request (the API's abort plus a mark in Redis) records CANCELED, not INTERRUPTED.
* Redis lost: ARQ's poll loop (``Worker.main``) raises on the first Redis error; :func:`run_worker`
  runs it again after ``REDIS_RETRY_SECONDS`` (running turns go on meanwhile), so a Redis restart
  needs no worker restart. Only ARQ's public surface is used: ``main``, ``main_task``, ``tasks``,
  the ``on_startup``/``on_shutdown``/``after_job_end`` hooks and ``ctx``.
* A run erased with its session leaves nothing in Redis: the API deletes its job and result
  (:meth:`bridge.arq_queue.ArqBridge.forget`), and a job that was running then drops its result.
* Health: ARQ refreshes ``<queue>:health-check`` every ``HEALTH_CHECK_INTERVAL`` seconds
  (``campaign-chat worker --check`` reads it).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import msgspec
from arq import Worker
from arq.constants import result_key_prefix
from arq.worker import func

from bridge.arq_queue import JOB_FUNCTION, cancel_mark_key, health_check_key
from core.cancel import cancel_until_done, withdraw_cancel
from core.ids import utcnow
from core.payloads import PayloadEnvelope
from core.settings import Settings
from core.status import RunStatus
from jobs.execute import execute_raw
from jobs.guard import JobDeps, RunHandle, StopReason
from jobs.llm_factory import build_llm
from ops import metrics
from ops.process import settled
from store import lifecycle, runs
from store.db import Database
from store.redis import redis_client
from store.wake import publisher

log = logging.getLogger("campaign_chat.worker")

HEALTH_CHECK_INTERVAL = 10
MAX_TRIES = 3
REDIS_RETRY_SECONDS = 1.0
FINISH_MARGIN_SECONDS = 10.0  # after the grace, how long cancelled turns get to record their outcome
RECANCEL_SECONDS = 1.0  # after a signal, how often the poll loop is cancelled again until it ends


def arq_timeout_seconds(settings: Settings) -> float:
    """Past our own deadline, so :mod:`jobs.guard` records TIMED_OUT first."""
    return settings.job_timeout_seconds + 30


async def run_task(ctx: dict[str, Any], raw: dict[str, Any]) -> bool:
    """The ARQ job function. Returns False when there was nothing to run (already started or gone)."""
    deps: JobDeps = ctx["deps"]
    envelope = msgspec.convert(raw, PayloadEnvelope)
    ctx["run_id"] = envelope.run_id  # for after_job (this job's own ctx; the job id may differ from the run id)
    mark = cancel_mark_key(deps.settings.arq_queue_name, envelope.run_id)
    if await ctx["redis"].exists(mark):
        await cancel_unstarted(deps, envelope)
        return False
    handle = RunHandle()
    job = asyncio.create_task(execute_raw(deps, raw, handle=handle), name=f"run:{envelope.run_id}")
    running: set[asyncio.Task[Any]] = ctx["running"]
    running.add(job)  # run_worker waits for these before closing the database
    job.add_done_callback(running.discard)
    try:
        return (await asyncio.shield(job)).ran
    except asyncio.CancelledError:
        # Handled before it is re-raised: withdrawn first, or on Python 3.11.0-3.11.2 the Redis read
        # below is itself cancelled and the job is never told to stop (see core.cancel).
        withdraw_cancel()
        # Shutdown or an abort: tell the job which, so it records INTERRUPTED or CANCELED, and wait for
        # it to write that and release its claim before the worker moves on (or exits).
        requested = await _cancel_requested(ctx, mark)
        log.info("run %s: %s; recording it", envelope.run_id, "cancel requested" if requested else "worker stopping")
        handle.stop(StopReason.CANCELED if requested else StopReason.INTERRUPTED)
        await _until_done(job)
        log.info("run %s: stopped and recorded", envelope.run_id)
        raise


async def _until_done(task: asyncio.Task[Any]) -> None:
    """Wait for ``task`` even if this waiter is cancelled again meanwhile (the outcome must be written)."""
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            withdraw_cancel()


async def _cancel_requested(ctx: dict[str, Any], mark: str) -> bool:
    try:
        return bool(await ctx["redis"].exists(mark))
    except asyncio.CancelledError:  # cancelled again while asking: the worker is stopping harder
        withdraw_cancel()
        return False
    except Exception:  # noqa: BLE001 - Redis gone during shutdown: treat as a shutdown, not a user cancel
        return False


async def cancel_unstarted(deps: JobDeps, envelope: PayloadEnvelope) -> None:
    """A run canceled while queued: mark it CANCELED and free its session, if it never started."""
    await deps.db.run(lifecycle.end_unstarted_id, envelope.run_id, RunStatus.CANCELED, lifecycle.NOT_STARTED,
                      now=utcnow())
    if deps.wake is not None:
        await deps.wake(envelope.run_id)


async def startup(ctx: dict[str, Any]) -> None:
    if "deps" in ctx:
        return  # the poll loop was restarted after a Redis outage: everything is already here
    settings: Settings = ctx["settings"]
    db = Database(settings.database_url, idle_in_transaction_seconds=settings.claim_lease_seconds)
    metrics.count_statements(db.sync_engines(), "worker")
    wake = publisher(settings, db, ctx["redis"])
    ctx.update(deps=JobDeps(db=db, settings=settings, llm=build_llm(settings), wake=wake), running=set())
    log.info("worker ready: queue=%s database=%s concurrency=%d", settings.arq_queue_name, db.dialect,
             settings.worker_concurrency)
    settled()


async def after_job(ctx: dict[str, Any]) -> None:
    """ARQ's ``after_job_end`` hook: a job whose run was erased meanwhile (its session deleted) leaves
    no result behind, since ARQ's result repeats the job's arguments (the payload)."""
    deps: JobDeps | None = ctx.get("deps")
    job_id, run_id = ctx.get("job_id"), ctx.get("run_id")
    if deps is None or job_id is None or run_id is None:
        return
    try:
        if await deps.db.run_read(runs.get, run_id) is not None:
            return
        await ctx["redis"].delete(result_key_prefix + job_id)
        log.info("run %s was erased with its session; its ARQ result was dropped", run_id)
    except Exception:  # noqa: BLE001 - the result expires with keep_result anyway
        log.warning("could not drop the result of erased run %s", job_id, exc_info=True)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "deps" in ctx:
        await ctx["deps"].db.dispose()


def create_worker(settings: Settings, *, handle_signals: bool = True, burst: bool = False) -> Worker:
    """An ARQ worker for ``settings``' Redis and queue (build it inside the loop that will run it)."""
    return Worker(
        functions=[func(run_task, name=JOB_FUNCTION, max_tries=MAX_TRIES, timeout=arq_timeout_seconds(settings))],
        queue_name=settings.arq_queue_name,
        redis_pool=redis_client(settings.redis_url),
        ctx={"settings": settings},
        on_startup=startup,
        on_shutdown=shutdown,
        after_job_end=after_job,
        max_jobs=settings.worker_concurrency,
        job_completion_wait=settings.worker_shutdown_grace_seconds,
        handle_signals=handle_signals,
        burst=burst,
        allow_abort_jobs=True,
        keep_result=3_600,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        health_check_key=health_check_key(settings.arq_queue_name),
        poll_delay=0.2,
    )


async def _poll(worker: Worker) -> None:
    """ARQ's poll loop, run again whenever Redis went away (running turns are not touched)."""
    from redis.exceptions import RedisError

    lost = False
    while True:
        try:
            await worker.main()
            return  # burst mode: the queue is empty
        except (RedisError, OSError) as exc:
            if not lost:
                log.warning("Redis unreachable (%s: %s); retrying every %.0fs", type(exc).__name__, exc,
                            REDIS_RETRY_SECONDS)
            lost = True
            await asyncio.sleep(REDIS_RETRY_SECONDS)


async def until_stopped(poll: asyncio.Future[Any], stopped: asyncio.Event) -> None:
    """Wait for ``poll``; once ``stopped`` is set (ARQ cancelled it after a signal), cancel it again every
    ``RECANCEL_SECONDS`` until it ends (:func:`core.cancel.cancel_until_done`: a Redis command can swallow
    a cancel). A poll loop that goes on after a signal neither picks jobs nor lets the process exit: seen
    once, a worker that logged its shutdown and ran on until it was killed."""
    stop = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not poll.done():
            await asyncio.wait({poll}, timeout=RECANCEL_SECONDS)  # ARQ's own cancel first
            await cancel_until_done(poll, RECANCEL_SECONDS)
    finally:
        stop.cancel()
        if not poll.done():  # this waiter was cancelled itself: the poll loop stops with it
            poll.cancel()
    poll.result()  # CancelledError once cancelled; a crash of the poll loop as itself


async def run_worker(settings: Settings, *, handle_signals: bool = True, burst: bool = False) -> None:
    """Run a worker until a signal (or, in burst mode, an empty queue); then let every running turn
    record its outcome before closing the worker's connections."""
    worker = create_worker(settings, handle_signals=handle_signals, burst=burst)
    poll = asyncio.ensure_future(_poll(worker))
    worker.main_task = poll  # ARQ's signal handlers cancel this once running jobs were given their grace
    stopped = asyncio.Event()
    worker.on_stop = lambda _signal: stopped.set()  # called by ARQ right after that cancel (as its CLI uses it)
    try:
        await until_stopped(poll, stopped)
    except asyncio.CancelledError:
        withdraw_cancel()  # closing the worker below talks to Redis (see core.cancel)
        log.info("worker stopping")
    finally:
        if not handle_signals:
            worker.handle_sig(signal.SIGTERM)  # stopped by our caller: cancel running jobs like a signal would
        running: set[asyncio.Task[Any]] = worker.ctx.get("running", set())
        if running:
            await asyncio.wait(set(running), timeout=settings.worker_shutdown_grace_seconds + FINISH_MARGIN_SECONDS)
        await worker.close()


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
