"""What every task runs inside: start once, keep the claim alive, end in a recorded outcome.

:func:`run_task` starts the run (:func:`store.lifecycle.start_run`), runs the task's body under its
deadline while a heartbeat renews the claim's lease, and ends the run through
:func:`store.lifecycle.end_run` whichever way the body finishes:

    body returns a TaskResult   -> COMPLETED_SUCCESSFULLY (the session gets the result)
    JobError                    -> COMPLETED_WITH_ERRORS with its code (usage still recorded)
    deadline                    -> TIMED_OUT (timed_out)
    stopped: canceled           -> CANCELED (canceled), by request through the launcher's RunHandle
    stopped: interrupted        -> INTERRUPTED (interrupted), the worker is shutting down
    stopped: claim lost         -> the heartbeat found the claim gone (session deleted or taken over)
    any other exception         -> COMPLETED_WITH_ERRORS (task_error)

Why a task was stopped travels on its :class:`RunHandle`, never in a cancellation message: what
``CancelledError`` carries differs between Python patch releases. A handled cancellation is withdrawn
(:func:`core.cancel.withdraw_cancel`) before anything else is awaited, for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import DBAPIError

from core.cancel import withdraw_cancel
from core.errors import JobError, TurnTimedOut
from core.events import DoneEvent, ErrorEvent, PhaseEvent, Reporter
from core.ids import utcnow
from core.settings import Settings
from core.status import RunStatus
from core.usage import Usage
from jobs.llm import FrameworkLLM
from jobs.reporter import STREAM_KEY, FanOut, RunReporter, Wake
from ops import observe
from store import lifecycle
from store.db import Database
from store.lifecycle import RunRef
from store.rows import ClaimedSession, RunFailure, SessionMemory

log = logging.getLogger("campaign_chat.jobs")

OUTCOME_RETRY_SECONDS = 0.5


@dataclass
class JobDeps:
    """Built once per process (API for inline, each worker, each Trigger.dev run) and shared by tasks."""

    db: Database
    settings: Settings
    llm: FrameworkLLM
    wake: Wake | None = None  # tells this deployment's realtime subscribers to look


class StopReason(StrEnum):
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"
    CLAIM_LOST = "claim_lost"


class RunHandle:
    """A launcher's grip on one running task: stop it, saying why."""

    def __init__(self) -> None:
        self.reason: StopReason | None = None
        self._task: asyncio.Task[Any] | None = None

    def attach(self, task: asyncio.Task[Any]) -> None:
        self._task = task

    def stop(self, reason: StopReason) -> bool:
        """Cancel the task with ``reason`` (the first reason given wins). False when it is not running."""
        if self._task is None or self._task.done():
            return False
        if self.reason is None:
            self.reason = reason
        self._task.cancel()
        return True


_STOPPED = {
    StopReason.CANCELED: (RunStatus.CANCELED, RunFailure("canceled", "the run was canceled")),
    StopReason.INTERRUPTED: (RunStatus.INTERRUPTED, RunFailure("interrupted", "the worker shut down during the task")),
    # The lifecycle turns this into session_deleted or claim_lost (it reads which).
    StopReason.CLAIM_LOST: (RunStatus.COMPLETED_WITH_ERRORS, RunFailure("claim_lost", "the session's claim was lost")),
}


@dataclass(frozen=True)
class Outcome:
    """How a delivered run ended, as this delivery saw it: what a launcher reports upward."""

    ran: bool  # False: nothing was run (a duplicate delivery, a refused payload, a session gone)
    status: RunStatus | None = None  # what the run row says now (None: not this delivery's to say)
    failure: RunFailure | None = None
    output: dict[str, Any] | None = None  # the run's output (success only)

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.COMPLETED_SUCCESSFULLY


NOT_RUN = Outcome(ran=False)


@dataclass(frozen=True)
class TaskResult:
    """A task body's success: session columns to write, the run's output summary, usage."""

    values: dict[str, Any]
    output: dict[str, Any]
    usage: Usage


@dataclass
class Started:
    run: RunRef
    session: ClaimedSession
    started_at: float = field(default_factory=time.time)

    @property
    def task(self) -> str:
        return self.run.task

    @property
    def run_id(self) -> str:
        return self.run.id


Body = Callable[[Started, Reporter], Awaitable[TaskResult]]


async def run_task(deps: JobDeps, *, run_id: str, session_id: str, task: str, user_message: str | None,
                   body: Body, extra: Reporter | None = None, handle: RunHandle | None = None,
                   remember: SessionMemory | None = None) -> Outcome:
    """Start the run and take it to its recorded end. Raises RunNotStartable when it must not run.
    ``remember``: what the session keeps from this request, written as the run starts; the body's
    ``started.session`` holds the values in effect (given, else remembered)."""
    handle = handle or RunHandle()
    lease = timedelta(seconds=deps.settings.claim_lease_seconds)
    session = await deps.db.run(lifecycle.start_run, run_id=run_id, session_id=session_id, task=task, now=utcnow(),
                                lease=lease, user_message=user_message, remember=remember)
    started = Started(run=RunRef(id=run_id, public_id=session.run_id or run_id, session_id=session_id, task=task,
                                 user_id=session.user_id),
                      session=session)
    observe.turn_started(started)
    store = RunReporter(deps.db, run_id, wake=deps.wake)
    reporter: Reporter = FanOut(store, extra) if extra is not None else store
    current = asyncio.current_task()
    assert current is not None
    handle.attach(current)
    beat = asyncio.create_task(_heartbeat(deps, started, handle, lease), name=f"heartbeat:{run_id}")
    end = _Ender(deps, started, store, extra, reporter)
    try:
        await _guarded(deps, started, end, reporter, handle, body)
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
        await reporter.settled()
        await reporter.aclose()
    return end.outcome


async def _guarded(deps: JobDeps, started: Started, end: _Ender, reporter: Reporter, handle: RunHandle,
                   body: Body) -> None:
    try:
        async with asyncio.timeout(deps.settings.job_timeout_seconds):
            result = await body(started, reporter)
    except TimeoutError:
        error = TurnTimedOut(f"the task did not finish within its deadline ({deps.settings.job_timeout_seconds}s)")
        await _record(end.failed(RunStatus.TIMED_OUT, error))
    except JobError as exc:
        await _record(end.failed(RunStatus.COMPLETED_WITH_ERRORS, exc))
    except asyncio.CancelledError:
        # Handled here: withdrawn first, so what the outcome's recording awaits (the database, a
        # Redis wake-up) runs as in any task, on every Python (see core.cancel).
        withdraw_cancel()
        status, failure = _STOPPED[handle.reason or StopReason.INTERRUPTED]
        await _record(end.failed(status, JobError(failure.message, code=failure.code)))
        if handle.reason is None or handle.reason is StopReason.INTERRUPTED:
            raise  # the process is stopping: let the cancellation through once the run is recorded
        # A stop we asked for (cancel, claim lost), and handled: the task itself goes on normally.
    except Exception as exc:  # noqa: BLE001 - any other failure still ends the run and frees the session
        await _record(end.failed(RunStatus.COMPLETED_WITH_ERRORS, JobError(describe(exc), code="task_error")))
    else:
        await _record(end.succeeded(result))


async def _record(outcome: Awaitable[None]) -> None:
    """Write an outcome to the end, even if this task is cancelled meanwhile (a shutdown must not leave
    the run EXECUTING and its session busy); a cancellation that arrived is re-raised afterwards."""
    task = asyncio.ensure_future(outcome)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            withdraw_cancel()
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


class _Ender:
    """Writes the outcome: the last events and the end of the run in one transaction."""

    def __init__(self, deps: JobDeps, started: Started, store: RunReporter, extra: Reporter | None,
                 reporter: Reporter) -> None:
        self.deps, self.started, self.store, self.extra, self.reporter = deps, started, store, extra, reporter
        self.outcome = Outcome(ran=True)

    async def succeeded(self, result: TaskResult) -> None:
        await self.reporter.emit(DoneEvent(status=RunStatus.COMPLETED_SUCCESSFULLY.outcome))
        await self._end(RunStatus.COMPLETED_SUCCESSFULLY, None, result.usage, output=result.output,
                        values=result.values)

    async def failed(self, status: RunStatus, error: JobError) -> None:
        await self.reporter.emit(ErrorEvent(code=error.code, message=error.message))
        await self.reporter.emit(DoneEvent(status=status.outcome))
        await self._end(status, RunFailure(error.code, error.message), error.usage)

    async def _end(self, status: RunStatus, failure: RunFailure | None, usage: Usage | None, *,
                   output: dict[str, Any] | None = None, values: dict[str, Any] | None = None) -> None:
        if self.extra is not None:
            await self.extra.flush()
        events, first_seq, state = await self.store.take()
        run_values = {"metadata": state, "realtime_streams": [STREAM_KEY]}
        give_up = time.monotonic() + self.deps.settings.claim_lease_seconds
        while True:
            try:
                ended = await self.deps.db.run(
                    lifecycle.end_run, self.started.run, status, now=utcnow(), failure=failure, usage=usage,
                    session_usage=self.started.session.usage, output=output, values=values,
                    run_values=run_values, events=events, first_seq=first_seq)
                break
            except (OSError, DBAPIError) as exc:
                # The database is away (a restart, a network cut): the outcome is written once it is back.
                # Past the lease, the reaper owns the run; it ends it as CRASHED and frees the session.
                if time.monotonic() > give_up:
                    raise
                log.warning("writing the outcome failed (%s); retrying", type(exc).__name__,
                            extra={"run_id": self.started.run_id})
                await asyncio.sleep(OUTCOME_RETRY_SECONDS)
        self.outcome = Outcome(ran=True, status=ended.status if ended.finished else None, failure=ended.failure,
                               output=output if ended.finished and ended.status is status and failure is None else None)
        if not ended.finished:  # the run had already ended elsewhere (reaped, canceled): nothing of this landed
            observe.claim_lost(self.started, RunStatus.CRASHED, model=self.deps.llm.name, usage=usage,
                               code="run_already_ended")
            return
        code = ended.failure.code if ended.failure else None
        if not ended.held:
            observe.claim_lost(self.started, ended.status, model=self.deps.llm.name, usage=usage, code=code or "")
            return
        observe.turn_finished(self.started, ended.status, model=self.deps.llm.name, usage=usage, code=code)


async def _heartbeat(deps: JobDeps, started: Started, handle: RunHandle, lease: timedelta) -> None:
    """Renew the claim's lease while the task runs; stop the task when the claim is gone or a cancel
    request was recorded for it (by an API instance that could not reach this process)."""
    interval = max(0.2, lease.total_seconds() / 3)
    while True:
        await asyncio.sleep(interval)
        try:
            held, requested = await deps.db.run(lifecycle.renew_lease, started.run, until=utcnow() + lease)
        except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the lease has slack for it
            log.warning("heartbeat failed: %s", type(exc).__name__, extra={"run_id": started.run.id})
            continue
        if not held:
            handle.stop(StopReason.CLAIM_LOST)
            return
        if requested:
            handle.stop(StopReason.CANCELED)
            return


async def phase(reporter: Reporter, name: str) -> None:
    await reporter.emit(PhaseEvent(phase=name))  # type: ignore[arg-type]


def describe(exc: BaseException) -> str:
    """A one-line reason for an unexpected failure, safe to show the session's owner."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
