"""The one job entry point. Inline, ARQ and Trigger.dev launchers all call :func:`execute`."""

from __future__ import annotations

from core.events import Reporter
from core.payloads import ChatTurnPayload, ExamplesPayload, TaskPayload
from jobs import chat_turn, examples
from jobs.runtime import JobDeps, NotStarted
from ops import observe

TASKS = ("framework-chat-turn", "generate-email-examples")


async def execute(deps: JobDeps, payload: TaskPayload, reporter: Reporter) -> bool:
    """Run one task to its end. False when there was nothing to run (already started, session gone)."""
    with observe.job_context(payload, deps.settings.task_backend):  # log context + the job's trace span
        try:
            return await _execute(deps, payload, reporter)
        finally:
            # The outcome (COMPLETED, FAILED, CANCELED…) is written after the last event's wake-up.
            settled = getattr(reporter, "settled", None)
            if settled is not None:
                await settled()


async def _execute(deps: JobDeps, payload: TaskPayload, reporter: Reporter) -> bool:
    try:
        if isinstance(payload, ChatTurnPayload):
            await chat_turn.run(deps, payload, reporter)
        elif isinstance(payload, ExamplesPayload):
            await examples.run(deps, payload, reporter)
        else:  # pragma: no cover - the payload union is closed
            raise TypeError(f"unknown payload {type(payload).__name__}")
    except NotStarted as exc:
        observe.not_started(payload, str(exc))
        return False
    return True
