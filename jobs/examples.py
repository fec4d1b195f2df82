"""``generate-email-examples``: one sample email per lead, written from the current skeleton."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from core import limits
from core.errors import JobError
from core.events import ExampleEvent, Reporter, UsageEvent
from core.payloads import ExamplesPayload, Lead
from core.usage import Usage
from jobs.guard import JobDeps, Outcome, RunHandle, Started, TaskResult, phase, run_task
from jobs.llm import ExampleContext, allowed_variables
from ops import observe
from store.rows import SessionMemory

TASK = "generate-email-examples"


def lead_identity(lead: Lead) -> dict[str, Any]:
    """What downstream matching needs: a lead id (given, or stable from the name) and the name fields."""
    full = lead.full_name or " ".join(p for p in (lead.first_name, lead.last_name) if p) or None
    ident = lead.identity
    if ident is None:
        basis = "|".join(str(v or "") for v in (lead.first_name, lead.last_name, lead.email, lead.company))
        ident = "lead_" + hashlib.sha256(basis.encode()).hexdigest()[:16]
    return {"lead_id": ident, "first_name": lead.first_name, "last_name": lead.last_name, "full_name": full}


async def run(deps: JobDeps, payload: ExamplesPayload, *, extra: Reporter | None = None,
              handle: RunHandle | None = None) -> Outcome:
    async def body(started: Started, reporter: Reporter) -> TaskResult:
        return await _examples(deps, started, payload, reporter)

    return await run_task(deps, run_id=payload.run_id, session_id=payload.session_id, task=TASK,
                          user_message=None, body=body, extra=extra, handle=handle,
                          remember=SessionMemory(sequence_context=payload.input.sequenceContext))


async def _examples(deps: JobDeps, started: Started, payload: ExamplesPayload, reporter: Reporter) -> TaskResult:
    session = started.session
    if session.skeleton is None:
        raise JobError("Session has no framework yet. Chat first to create one.", code="no_framework")
    body = payload.input
    leads = list(body.leads)
    # The template was written against the session's whitelist; the remembered sequence context when
    # this request gives none (started.session holds the values in effect).
    allowed = allowed_variables(session.available_var_names, leads)
    gate = asyncio.Semaphore(deps.settings.example_concurrency)
    await phase(reporter, "writing")

    async def one(lead: Lead) -> tuple[dict[str, Any], Usage]:
        identity = lead_identity(lead)
        ctx = ExampleContext(lead=lead, skeleton=session.skeleton or {}, draft_subject=session.draft_subject,
                             draft_body=session.draft_body, allowed_vars=allowed,
                             sequence_context=session.sequence_context)
        async with gate:
            try:
                with observe.model_call(deps.llm.name, "write_example"):
                    result = await deps.llm.write_example(ctx, reporter)
            except JobError as exc:
                example = {**identity, "status": "failed", "error": {"code": exc.code, "message": exc.message}}
                await reporter.emit(ExampleEvent(example=example))
                return example, exc.usage or Usage()
        example = {**identity, "status": "ok", "subject": result.subject, "body": result.body}
        await reporter.emit(ExampleEvent(example=example))
        return example, result.usage

    results = await asyncio.gather(*(one(lead) for lead in leads))
    examples = [example for example, _ in results]
    usage = sum((u for _, u in results), Usage())
    if not any(e["status"] == "ok" for e in examples):
        raise JobError("no example could be written for any lead", code="examples_failed", usage=usage)
    existing = [] if body.isFirstBatch else list(session.generated_examples or [])
    await phase(reporter, "saving")
    await reporter.emit(UsageEvent(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                                   requests=usage.requests, cost_usd=usage.cost_usd))
    summary = {"examples": sum(e["status"] == "ok" for e in examples),
               "failed": sum(e["status"] != "ok" for e in examples), "usage": usage.to_json()}
    # A batch appended to earlier ones keeps the newest examples (core.limits).
    kept = limits.newest(existing + examples, limits.MAX_GENERATED_EXAMPLES)
    return TaskResult(values={"generated_examples": kept}, output=summary, usage=usage)
