"""The one job entry point. Inline, ARQ and Trigger.dev launchers all call :func:`execute`."""

from __future__ import annotations

from core.events import Reporter
from core.payloads import ChatTurnPayload, ExamplesPayload, TaskPayload
from jobs import chat_turn, examples
from jobs.runtime import JobDeps, NotStarted

TASKS = ("framework-chat-turn", "generate-email-examples")


async def execute(deps: JobDeps, payload: TaskPayload, reporter: Reporter) -> bool:
    """Run one task to its end. False when there was nothing to run (already started, session gone)."""
    try:
        if isinstance(payload, ChatTurnPayload):
            await chat_turn.run(deps, payload, reporter)
        elif isinstance(payload, ExamplesPayload):
            await examples.run(deps, payload, reporter)
        else:  # pragma: no cover - the payload union is closed
            raise TypeError(f"unknown payload {type(payload).__name__}")
    except NotStarted:
        return False
    return True
