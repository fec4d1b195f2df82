"""``framework-chat-turn``: one user message in, the model's reply, skeleton and draft out."""

from __future__ import annotations

from typing import Any

from core import limits
from core.events import DraftEvent, ReplyEvent, Reporter, SkeletonEvent, UsageEvent
from core.payloads import ChatTurnPayload
from jobs.guard import JobDeps, Outcome, RunHandle, Started, TaskResult, phase, run_task
from jobs.llm import TurnContext, TurnResult, allowed_variables
from ops import observe
from store.rows import SessionMemory, SessionRow

TASK = "framework-chat-turn"


def context_for(session: SessionRow, payload: ChatTurnPayload) -> TurnContext:
    """The model's context. ``session`` is the started session: its whitelist and sequence context are
    the ones in effect (this request's, else the last ones the session was given)."""
    body = payload.input
    leads = list(body.sampleLeads or [])
    return TurnContext(
        message=body.message,
        transcript=list(session.messages or []),
        skeleton=session.skeleton,
        framework_version=session.framework_version,
        draft_subject=session.draft_subject,
        draft_body=session.draft_body,
        allowed_vars=allowed_variables(session.available_var_names, leads),
        sample_leads=leads,
        sequence_context=session.sequence_context,
    )


def remembered(payload: ChatTurnPayload) -> SessionMemory:
    return SessionMemory(available_var_names=payload.input.availableVarNames,
                         sequence_context=payload.input.sequenceContext)


async def run(deps: JobDeps, payload: ChatTurnPayload, *, extra: Reporter | None = None,
              handle: RunHandle | None = None) -> Outcome:
    async def body(started: Started, reporter: Reporter) -> TaskResult:
        return await _turn(deps, started, payload, reporter)

    return await run_task(deps, run_id=payload.run_id, session_id=payload.session_id, task=TASK,
                          user_message=payload.input.message, body=body, extra=extra, handle=handle,
                          remember=remembered(payload))


async def _turn(deps: JobDeps, started: Started, payload: ChatTurnPayload, reporter: Reporter) -> TaskResult:
    await phase(reporter, "thinking")
    with observe.model_call(deps.llm.name, "chat_turn"):
        result: TurnResult = await deps.llm.chat_turn(context_for(started.session, payload), reporter)
    observe.model_retries(deps.llm.name, result.retries)
    await reporter.emit(ReplyEvent(text=result.reply))
    await phase(reporter, "saving")
    values, summary = apply_result(started.session, result)
    if "skeleton" in values:
        await reporter.emit(SkeletonEvent(skeleton=values["skeleton"], framework_version=values["framework_version"]))
    if "draft_subject" in values:
        await reporter.emit(DraftEvent(subject=values["draft_subject"], body=values["draft_body"]))
    u = result.usage
    await reporter.emit(UsageEvent(input_tokens=u.input_tokens, output_tokens=u.output_tokens, requests=u.requests,
                                   cost_usd=u.cost_usd))
    return TaskResult(values=values, output=summary, usage=u)


def apply_result(session: SessionRow, result: TurnResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """Session column values after a successful turn, and the run's output summary (contract-notes §6)."""
    # Growing lists keep their newest entries (core.limits).
    messages = [*(session.messages or []), {"role": "assistant", "content": result.reply}]
    values: dict[str, Any] = {"messages": limits.newest(messages, limits.MAX_MESSAGES)}
    skeleton_changed = result.skeleton is not None and result.skeleton != session.skeleton
    if skeleton_changed:
        history = list(session.skeleton_history or [])
        if session.skeleton is not None:
            history.append(session.skeleton)
        values.update(
            skeleton=result.skeleton,
            skeleton_history=limits.newest(history, limits.MAX_SKELETON_HISTORY),
            framework_version=(session.framework_version or 0) + 1,
            generated_examples=None,  # examples were written from the old skeleton
        )
    new_draft = (result.draft_subject, result.draft_body)
    old_draft = (session.draft_subject, session.draft_body)
    draft_changed = (result.draft_subject is not None or result.draft_body is not None) and new_draft != old_draft
    if draft_changed:
        history = list(session.draft_history or [])
        if old_draft != (None, None):
            history.append({"subject": old_draft[0], "body": old_draft[1]})
        values.update(
            draft_subject=result.draft_subject if result.draft_subject is not None else old_draft[0],
            draft_body=result.draft_body if result.draft_body is not None else old_draft[1],
            draft_history=limits.newest(history, limits.MAX_DRAFT_HISTORY),
        )
    summary = {
        "reply": result.reply,
        "skeleton_updated": skeleton_changed,
        "framework_version": values.get("framework_version", session.framework_version),
        "draft_updated": draft_changed,
        "validation_retries": result.retries,
        "usage": result.usage.to_json(),
    }
    return values, summary
