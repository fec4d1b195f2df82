"""Scripted models for the job tests: pydantic-ai FunctionModels at the provider boundary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import msgspec

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from core.payloads import Lead, SequenceContext
from jobs.agent import AgentLLM
from jobs.llm import TurnContext, allowed_variables

LEADS = [
    Lead(first_name="Sara", last_name="Lee", company="Acme", position="VP Sales"),
    Lead(first_name="Omar", last_name="Haddad", company="Globex", position="Head of Sales",
         custom_fields={"industry": "SaaS"}),
    Lead(first_name="Mia", last_name="Chen", company="Initech", position="CRO"),
]
LEAD_JSON = [{"first_name": "Sara", "last_name": "Lee", "company": "Acme", "position": "VP Sales"},
             {"first_name": "Omar", "last_name": "Haddad", "company": "Globex", "position": "Head of Sales",
              "custom_fields": {"industry": "SaaS"}},
             {"first_name": "Mia", "last_name": "Chen", "company": "Initech", "position": "CRO"}]


def feedback(messages: list[ModelMessage]) -> list[str]:
    """What the validators told the model so far (pydantic-ai 2.x: ToolReturnPart, outcome='retried')."""
    return [str(p.content) for m in messages for p in m.parts if getattr(p, "outcome", None) == "retried"]


def prompt_of(messages: list[ModelMessage]) -> str:
    return next(p.content for m in messages for p in m.parts if isinstance(p, UserPromptPart))


Answer = Callable[[list[ModelMessage]], dict[str, Any]]


def scripted_model(answer: Answer, chunk: int = 7) -> FunctionModel:
    """A FunctionModel answering through the output tool, streamed in ``chunk``-character pieces."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer(messages))])

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[dict[int, DeltaToolCall]]:
        text = json.dumps(answer(messages))
        for i in range(0, len(text), chunk):
            yield {0: DeltaToolCall(name=info.output_tools[0].name if i == 0 else None, json_args=text[i:i + chunk])}

    return FunctionModel(respond, stream_function=stream, model_name="scripted")


def scripted_llm(answer: Answer, *, token_limit: int = 200_000, chunk: int = 7) -> AgentLLM:
    return AgentLLM(scripted_model(answer, chunk), name="test:scripted", token_limit=token_limit)


def turn_context(message: str = "Write an intro email", *, transcript: list[dict[str, Any]] | None = None,
                 skeleton: dict[str, Any] | None = None, draft: tuple[str | None, str | None] = (None, None),
                 available: list[str] | None = None, sequence: SequenceContext | None = None) -> TurnContext:
    transcript = [*(transcript or []), {"role": "user", "content": message}]
    return TurnContext(message=message, transcript=transcript, skeleton=skeleton,
                       framework_version=1 if skeleton else None, draft_subject=draft[0], draft_body=draft[1],
                       allowed_vars=allowed_variables(available, LEADS), sample_leads=LEADS,
                       sequence_context=sequence)


def block(strategy: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"strategy": strategy, "personalization": {"fields": fields or [], "approach": "one line",
                                                      "fallback": "generic line"}}


def skeleton(offer: str = "Rampwise") -> dict[str, Any]:
    return {"audience": "VPs of Sales", "offer": offer, "hook": block("role pain", ["position"]),
            "value_prop": block("ramp time halved"), "proof": block("one customer result", ["company"]),
            "cta": block("Ask for a 15-minute demo", ["first_name"])}


async def run_row(api: Any, run_id: str) -> dict[str, Any]:
    """The stored run (status, output, error, usage), read from the app's database."""
    from store import runs

    row = await api.app.state.container.db.run_read(runs.get, run_id)
    assert row is not None, run_id
    return msgspec.to_builtins(row, builtin_types=(datetime,))


async def run_events(api: Any, run_id: str) -> list[dict[str, Any]]:
    """The run's ChatStreamEvents in order, as subscribers receive them."""
    from store import runs

    rows = await api.app.state.container.db.run_read(runs.events_after, run_id=run_id, after_seq=0, limit=10_000)
    return [dict(row.event) for row in rows]


async def turn(api: Any, session_id: str, message: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    """Run one turn through the API and wait for it: (run id, session afterwards)."""
    response = await api.turn(session_id, message, **extra)
    assert response.status_code == 202, response.text
    return response.json()["runId"], await api.wait_idle(session_id)


async def generate_examples(api: Any, session_id: str, leads: list[dict[str, Any]], first: bool = True
                            ) -> tuple[str, dict[str, Any]]:
    response = await api.client.post(f"/api/campaigns/ai-chat-sessions/{session_id}/generate-examples",
                                     json={"leads": leads, "isFirstBatch": first}, headers=api.headers)
    assert response.status_code == 202, response.text
    return response.json()["runId"], await api.wait_idle(session_id)
