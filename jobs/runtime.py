"""What every task needs around its model call: start, finish, fail, always release.

``begin`` moves the run PENDING → EXECUTING (once: a retried or duplicated delivery finds it
already started and does nothing) and loads the session while this run holds the claim.
``succeed`` / ``fail`` write the outcome and release the claim in one transaction, conditional on
still holding it, so a worker that lost its lease cannot land a late write.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.errors import ClaimLost, JobError
from core.events import DoneEvent, ErrorEvent, PhaseEvent, Reporter
from core.ids import utcnow
from core.settings import Settings
from jobs.llm import FrameworkLLM, Usage
from ops import observe
from store import runs, sessions
from store.db import Database
from store.tables import runs as runs_table, sessions as sessions_table

log = logging.getLogger("campaign_chat.jobs")

LEASE_MARGIN = timedelta(seconds=1)
SESSION_DELETED = ("session_deleted", "the session was deleted during the task; the result was discarded")


@dataclass
class JobDeps:
    """Built once per process (API for inline, worker for ARQ/Trigger.dev) and shared by every task."""

    db: Database
    settings: Settings
    llm: FrameworkLLM


@dataclass
class Started:
    run_id: str
    public_run_id: str
    task: str
    session: dict[str, Any]
    deadline: datetime
    started_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def seconds_left(self) -> float:
        return max(0.0, (self.deadline - utcnow()).total_seconds())


class NotStarted(Exception):
    """The task must not run (already started elsewhere, session gone, or claim lost); nothing to do."""


async def begin(deps: JobDeps, *, run_id: str, session_id: str, task: str, user_message: str | None) -> Started:
    now = utcnow()
    async with deps.db.write() as conn:
        claimed = await conn.execute(
            sa.update(runs_table)
            .where(runs_table.c.id == run_id, runs_table.c.status == "PENDING")
            .values(status="EXECUTING", started_at=now, updated_at=now, attempts=runs_table.c.attempts + 1,
                    version=runs_table.c.version + 1)
        )
        if claimed.rowcount != 1:
            raise NotStarted(f"run {run_id} is not pending")
        row = await sessions.get_for_job(conn, session_id=session_id, claim_run_id=run_id)
        if row is None:
            reason = "the session was deleted" if await _missing(conn, session_id) else "the session's claim moved on"
            code = "session_deleted" if reason.endswith("deleted") else "claim_lost"
            await runs.finish(conn, run_id, status="CANCELED" if code == "session_deleted" else "SYSTEM_FAILURE",
                              now=now, error=task_error(code, reason))
            raise NotStarted(reason)
        lease = row["lease_expires_at"]
        if lease is None or lease - LEASE_MARGIN <= now:
            await sessions.release(conn, session_id=session_id, claim_run_id=run_id, now=now,
                                   last_run=last_run(row["run_id"] or run_id, task, "failed", now,
                                                     ("lease_expired", "the claim's lease ended before the task started")))
            await runs.finish(conn, run_id, status="TIMED_OUT", now=now,
                              error=task_error("lease_expired", "the claim's lease ended before the task started"))
            raise NotStarted("lease expired before start")
        session = dict(row)
        if user_message is not None:
            # Stored before any model call: a failed turn keeps what the user said.
            session["messages"] = [*(session["messages"] or []), {"role": "user", "content": user_message}]
            await sessions.update_if_holding(conn, session_id=session_id, claim_run_id=run_id,
                                             values={"messages": session["messages"], "updated_at": now})
    deadline = min(now + timedelta(seconds=deps.settings.job_timeout_seconds), lease - LEASE_MARGIN)
    started = Started(run_id=run_id, public_run_id=session["run_id"] or run_id, task=task, session=session,
                      deadline=deadline, started_at=now)
    observe.turn_started(started)
    return started


async def refuse(deps: JobDeps, envelope: Any, code: str, message: str) -> None:
    """Fail a run this job will not execute (it cannot understand it) and release its claim, at once."""
    now = utcnow()
    async with deps.db.write() as conn:
        run = await runs.get(conn, envelope.run_id)
        if run is None:
            return
        public = run["external_id"] or run["id"]
        if await runs.finish(conn, run["id"], status="SYSTEM_FAILURE", now=now, error=task_error(code, message)):
            await sessions.release(conn, session_id=envelope.session_id, claim_run_id=run["id"], now=now,
                                   last_run=last_run(public, run["task"], "failed", now, (code, message)))
    log.error("run refused: %s", message, extra={"run_id": envelope.run_id, "error_code": code})


async def _missing(conn: Any, session_id: str) -> bool:
    stmt = sa.select(sessions_table.c.id).where(sessions_table.c.id == session_id)
    return (await conn.execute(stmt)).first() is None


def task_error(code: str, message: str) -> dict[str, Any]:
    """A Trigger.dev ``TaskRunError`` (BUILT_IN_ERROR) that still carries our stable code."""
    return {"type": "BUILT_IN_ERROR", "name": code, "message": message, "stackTrace": ""}


def last_run(run_id: str, task: str, status: str, now: datetime, error: tuple[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": run_id,
        "task": task,
        "status": status,
        "error": {"code": error[0], "message": error[1]} if error else None,
        "finished_at": now.isoformat().replace("+00:00", "Z"),
    }


def add_usage(session_usage: dict[str, Any] | None, usage: Usage) -> dict[str, Any]:
    total = Usage.from_json(session_usage) + usage
    return {"input_tokens": total.input_tokens, "output_tokens": total.output_tokens,
            "requests": total.requests, "cost_usd": total.cost_usd}


async def succeed(
    deps: JobDeps, started: Started, reporter: Reporter, *, values: dict[str, Any], output: dict[str, Any], usage: Usage
) -> None:
    await reporter.emit(DoneEvent(status="succeeded"))
    await _flush(reporter)
    now = utcnow()
    async with deps.db.write() as conn:
        held = await sessions.release(
            conn, session_id=started.session["id"], claim_run_id=started.run_id, now=now,
            last_run=last_run(started.public_run_id, started.task, "succeeded", now),
            usage=add_usage(started.session.get("usage"), usage), **values,
        )
        deleted = not held and await _missing(conn, started.session["id"])
        if deleted:
            await runs.finish(conn, started.run_id, status="CANCELED", now=now, usage=_usage_json(usage),
                              error=task_error(*SESSION_DELETED))
        elif not held:
            await runs.finish(conn, started.run_id, status="SYSTEM_FAILURE", now=now, usage=_usage_json(usage),
                              error=task_error("claim_lost", "the session's claim was taken over; the result was discarded"))
        else:
            await runs.finish(conn, started.run_id, status="COMPLETED_SUCCESSFULLY", now=now, output=output,
                              usage=_usage_json(usage))
    # Raised only after the transaction committed: raising inside it would roll back the run's outcome.
    if deleted:
        observe.turn_finished(started, "CANCELED", model=deps.llm.name, usage=usage, code=SESSION_DELETED[0])
        raise ClaimLost(SESSION_DELETED[1])
    if not held:
        observe.claim_lost(started, model=deps.llm.name, usage=usage)
        raise ClaimLost("the session's claim was taken over; the result was discarded")
    observe.turn_finished(started, "COMPLETED_SUCCESSFULLY", model=deps.llm.name, usage=usage)


async def fail(
    deps: JobDeps, started: Started, reporter: Reporter, error: JobError, *, usage: Usage | None = None,
    status: str = "COMPLETED_WITH_ERRORS", session_status: str = "failed",
) -> None:
    """Record a failure on the run and the session and release the claim (if still held)."""
    await reporter.emit(ErrorEvent(code=error.code, message=error.message))
    await reporter.emit(DoneEvent(status="canceled" if session_status == "canceled" else "failed"))
    await _flush(reporter)
    now = utcnow()
    values: dict[str, Any] = {"last_run": last_run(started.public_run_id, started.task, session_status, now,
                                                   (error.code, error.message))}
    if usage is not None:
        values["usage"] = add_usage(started.session.get("usage"), usage)
    async with deps.db.write() as conn:
        held = await sessions.release(conn, session_id=started.session["id"], claim_run_id=started.run_id, now=now,
                                      **values)
        if not held and await _missing(conn, started.session["id"]):
            status, error = "CANCELED", JobError(SESSION_DELETED[1], code=SESSION_DELETED[0])
        await runs.finish(conn, started.run_id, status=status, now=now, error=task_error(error.code, error.message),
                          usage=_usage_json(usage) if usage else None)
    observe.turn_finished(started, status, model=deps.llm.name, usage=usage, code=error.code)


async def phase(reporter: Reporter, name: str) -> None:
    await reporter.emit(PhaseEvent(phase=name))  # type: ignore[arg-type]


async def _flush(reporter: Reporter) -> None:
    await reporter.flush()


def _usage_json(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "requests": usage.requests, "cost_usd": usage.cost_usd}


CANCEL_MESSAGE = "canceled by request"


async def run_guarded(deps: JobDeps, started: Started, reporter: Reporter, body: Any) -> None:
    """Run ``body()`` under the task's deadline; every way out records an outcome and releases the claim."""
    try:
        async with asyncio.timeout(started.seconds_left()):
            await body()
    except ClaimLost:
        return  # the run is already marked; the session belongs to someone else now
    except TimeoutError:
        await asyncio.shield(fail(deps, started, reporter, JobError(
            f"the task did not finish within its deadline ({deps.settings.job_timeout_seconds}s)", code="timed_out"),
            status="TIMED_OUT"))
    except JobError as exc:
        await asyncio.shield(fail(deps, started, reporter, exc, usage=getattr(exc, "usage", None)))
    except asyncio.CancelledError as exc:
        by_request = bool(exc.args) and exc.args[0] == CANCEL_MESSAGE
        error = JobError("the run was canceled" if by_request else "the worker shut down during the task",
                         code="canceled" if by_request else "interrupted")
        await asyncio.shield(fail(deps, started, reporter, error, status="CANCELED" if by_request else "INTERRUPTED",
                                  session_status="canceled" if by_request else "failed"))
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure still ends the run and frees the session
        await asyncio.shield(fail(deps, started, reporter, JobError(describe(exc), code="task_error")))


def describe(exc: BaseException) -> str:
    """A one-line reason for an unexpected failure, safe to show the session's owner."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
