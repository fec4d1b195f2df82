"""The one job entry point. Inline, ARQ and Trigger.dev launchers all call :func:`execute`.

Launchers that receive the payload as plain JSON (ARQ, Trigger.dev) call :func:`execute_raw`,
which first checks that this job understands it: the payload's schema version and task name, and
the database's migration level. The API and the job code are deployed separately (workers, the
Trigger.dev bundle); a job that meets a payload or a schema it was not written for fails the run at
once with ``version_skew`` and releases the session's claim, instead of guessing.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from core.errors import RunNotStartable
from core.events import Reporter
from core.ids import utcnow
from core.payloads import (
    PAYLOAD_SCHEMA_VERSION,
    ChatTurnPayload,
    ExamplesPayload,
    PayloadEnvelope,
    TaskPayload,
    payload_from_builtins,
)
from core.status import RunStatus
from jobs import chat_turn, examples
from jobs.guard import NOT_RUN, JobDeps, Outcome, RunHandle
from ops import observe
from store import lifecycle, runs
from store.migrate import HEAD_REVISION, database_revision
from store.rows import RunFailure

log = logging.getLogger("campaign_chat.jobs")

TASKS = (chat_turn.TASK, examples.TASK)
DEPLOY_HINT = "deploy the same release to the API, its workers and the Trigger.dev tasks (migrate first)"
_checked_databases: set[str] = set()


async def execute(deps: JobDeps, payload: TaskPayload, *, extra: Reporter | None = None,
                  handle: RunHandle | None = None) -> Outcome:
    """Run one task to its recorded end; how it ended (``ran`` is False when there was nothing to run:
    already started, session gone). ``extra`` receives the run's events too (the Trigger.dev task's
    line reporter); ``handle`` lets the launcher stop the task and say why."""
    with observe.job_context(payload, deps.settings.task_backend):  # log context + the job's trace span
        try:
            if isinstance(payload, ChatTurnPayload):
                return await chat_turn.run(deps, payload, extra=extra, handle=handle)
            if isinstance(payload, ExamplesPayload):
                return await examples.run(deps, payload, extra=extra, handle=handle)
            raise TypeError(f"unknown payload {type(payload).__name__}")  # pragma: no cover - closed union
        except RunNotStartable as exc:
            observe.not_started(payload, str(exc))
            if exc.status is not None:
                return Outcome(ran=False, status=RunStatus(exc.status), failure=RunFailure(exc.code or "", str(exc)))
            return await _recorded(deps, payload.run_id)


async def _recorded(deps: JobDeps, run_id: str) -> Outcome:
    """What a later delivery of a run reports: how the run ended, if it has (else nothing: it is running)."""
    run = await deps.db.run_read(runs.get, run_id)
    if run is None or not run.status.terminal:
        return NOT_RUN
    succeeded = run.status is RunStatus.COMPLETED_SUCCESSFULLY
    return Outcome(ran=False, status=run.status, failure=run.failure, output=run.output if succeeded else None)


async def execute_raw(deps: JobDeps, raw: bytes | dict[str, Any], *, extra: Reporter | None = None,
                      handle: RunHandle | None = None) -> Outcome:
    """:func:`execute` for a payload as it arrived (JSON bytes or plain values), after the skew checks."""
    envelope = envelope_of(raw)
    problem = _payload_problem(envelope) or await _database_problem(deps)
    payload = None
    if problem is None:
        try:
            payload = payload_from_builtins(msgspec.json.decode(raw) if isinstance(raw, bytes) else raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            problem = f"this job cannot read the task payload ({exc}); {DEPLOY_HINT}"
    if payload is None:
        failure = RunFailure("version_skew", problem or "unreadable payload")
        await refuse(deps, envelope, failure)
        return Outcome(ran=False, status=RunStatus.SYSTEM_FAILURE, failure=failure)
    return await execute(deps, payload, extra=extra, handle=handle)


def envelope_of(raw: bytes | dict[str, Any]) -> PayloadEnvelope:
    try:
        if isinstance(raw, bytes):
            return msgspec.json.decode(raw, type=PayloadEnvelope)
        return msgspec.convert(raw, PayloadEnvelope)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        # Without a run id nothing can be released here; the claim's lease frees the session.
        raise ValueError(f"not a campaign-chat task payload: {exc}") from exc


async def refuse(deps: JobDeps, envelope: PayloadEnvelope, failure: RunFailure) -> None:
    """Fail a run this job will not execute and release its claim, at once."""
    await deps.db.run(lifecycle.end_unstarted_id, envelope.run_id, RunStatus.SYSTEM_FAILURE, failure, now=utcnow())
    log.error("run refused: %s", failure.message, extra={"run_id": envelope.run_id, "error_code": failure.code})
    if deps.wake is not None:
        try:
            await deps.wake(envelope.run_id)
        except Exception:  # noqa: BLE001 - subscribers still see it on their next poll
            pass


def _payload_problem(envelope: PayloadEnvelope) -> str | None:
    if envelope.schema_version > PAYLOAD_SCHEMA_VERSION:
        return (f"the task payload has schema version {envelope.schema_version}, newer than this job understands "
                f"({PAYLOAD_SCHEMA_VERSION}); {DEPLOY_HINT}")
    if envelope.task not in TASKS:
        return f"this job does not know the task {envelope.task!r} (it runs {', '.join(TASKS)}); {DEPLOY_HINT}"
    return None


async def _database_problem(deps: JobDeps) -> str | None:
    url = deps.db.url
    if url in _checked_databases:
        return None
    async with deps.db.read() as conn:
        revision = await database_revision(conn)
    if revision != HEAD_REVISION:
        return (f"the database is at migration {revision or 'none (never migrated)'}, this job was written for "
                f"{HEAD_REVISION}; {DEPLOY_HINT}")
    _checked_databases.add(url)
    return None
