"""The built-in ``offline`` framework model: deterministic, free, and used like any other model.

It is a pydantic-ai ``FunctionModel``: it reads the same prompt a hosted model reads (the JSON
context from ``jobs.agent.prompts``), answers by calling the output tool, streams its answer, and
reads the validators' feedback on a retry. Its behaviour follows the product protocol: clarifying
questions until audience, offer and call to action are known; then a skeleton and a draft using
only allowed variables; revisions on feedback ("shorter", "mention our SOC 2"); follow-up emails
acknowledge the earlier emails of the sequence. It exists so the service works without a key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel, _estimate_usage
from pydantic_ai.settings import ModelSettings

from jobs.agent.offline_brief import SHORTER_RE, Brief, article, clean, topic
from jobs.agent.offline_writer import write_example
from jobs.agent.prompts import new_message, read_context
from jobs.agent.rules import MAX_SUBJECT_CHARS

STREAM_CHUNK = 12


class OfflineModel(FunctionModel):
    """FunctionModel counts no input tokens on streamed requests; count them, so usage is comparable."""

    @asynccontextmanager
    async def request_stream(
        self, messages: list[ModelMessage], model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters, run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        async with super().request_stream(messages, model_settings, model_request_parameters, run_context) as stream:
            stream._usage.input_tokens = _estimate_usage(messages).input_tokens  # pinned pydantic-ai 2.68 internals
            yield stream


def offline_model() -> FunctionModel:
    return OfflineModel(_respond, stream_function=_stream, model_name="offline")


def _prompt(messages: list[ModelMessage]) -> str:
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                return part.content
    return ""


def _feedback(messages: list[ModelMessage]) -> list[str]:
    return [str(p.content) for m in messages for p in m.parts if getattr(p, "outcome", None) == "retried"]


def _args(messages: list[ModelMessage], info: AgentInfo) -> dict[str, Any]:
    prompt = _prompt(messages)
    context = read_context(prompt)
    schema = info.output_tools[0].parameters_json_schema
    if "reply" in schema.get("properties", {}):
        return answer_turn(context, new_message(prompt))
    return write_example(context, _feedback(messages))


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, _args(messages, info))])


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[dict[int, DeltaToolCall]]:
    text = json.dumps(_args(messages, info), ensure_ascii=False)
    name = info.output_tools[0].name
    for i in range(0, len(text), STREAM_CHUNK):
        yield {0: DeltaToolCall(name=name if i == 0 else None, json_args=text[i:i + STREAM_CHUNK])}


def _user_texts(context: dict[str, Any], message: str) -> list[str]:
    asks = [s.removeprefix("user asked: ") for s in context.get("summary_of_earlier_conversation") or []]
    recent = [m["content"] for m in context.get("recent_messages") or [] if m.get("role") == "user"]
    return [*asks, *recent, message]


def _questions(brief: Brief) -> str:
    known = []
    if brief.audience:
        known.append(f"the email is for {brief.audience}")
    if brief.offer:
        known.append(f"you offer {brief.offer}")
    asks = {
        "audience": "Who exactly is the reader (role, seniority, kind of company)?",
        "offer": "What do you sell, and what result does it get them?",
        "cta": "What should the reader do next: book a call, a demo, start a trial, or reply?",
    }
    intro = f"Got it: {' and '.join(known)}. " if known else "Happy to help. "
    return intro + "Before I draft anything, a few questions:\n" + "\n".join(
        f"{i}. {asks[m]}" for i, m in enumerate(brief.missing, 1))


def _block(strategy: str, fields: list[str], approach: str, fallback: str, allowed: list[str]) -> dict[str, Any]:
    return {"strategy": strategy,
            "personalization": {"fields": [f for f in fields if f in allowed], "approach": approach,
                                "fallback": fallback}}


def _skeleton(brief: Brief, allowed: list[str], follow_up: str | None) -> dict[str, Any]:
    hook = (f"Follow up on {follow_up} with one new angle instead of repeating it" if follow_up
            else "Open with a problem the reader's role feels, tied to their company")
    return {
        "audience": brief.audience,
        "offer": brief.offer,
        "hook": _block(hook, ["first_name", "position", "company"], "One sentence, no flattery", "Generic line tied "
                       "to the audience's role", allowed),
        "value_prop": _block(f"What {topic(brief.offer or '')} changes for {brief.audience}", ["company"],
                             "Name the outcome, not the features", "State the outcome without the company", allowed),
        "proof": _block(f"Cite: {brief.proof}" if brief.proof else "One concrete customer result", ["company"],
                        "Pick proof closest to the lead's situation", "Use the strongest general result", allowed),
        "cta": _block(f"Ask for {article(brief.cta or '')} {brief.cta}", ["first_name"], "One low-friction ask",
                      "Same ask without the name", allowed),
    }


def _draft(brief: Brief, allowed: list[str], short: bool, follow_up: str | None) -> tuple[str, str]:
    has = set(allowed)
    name = topic(brief.offer or "")
    greet = "Hi %first_name%," if "first_name" in has else "Hi there,"
    role = "a %position%" if "position" in has else "someone in your role"
    where = " at %company%" if "company" in has else ""
    if follow_up:
        hook = f"Following up on my earlier note. &&One new angle on {name} for {role}{where}, not repeated from it&&"
    else:
        hook = f"&&One sentence on why {name} matters to {role}{where}&&"
    offer = brief.offer or ""
    value = offer[:1].upper() + offer[1:] + "."
    proof = f"Also relevant: our {brief.proof}." if brief.proof else f"&&One customer result that fits {role}{where}&&"
    cta = f"Would you be open to {article(brief.cta or '')} {brief.cta} next week?"
    if short:
        middle = f"{hook} {value}" + (f" {proof}" if brief.proof else "")
        paragraphs = [greet, middle, cta, "Best regards"]
    else:
        paragraphs = [greet, hook, value, proof, cta, "Best regards"]
    prefix = "Re: " if follow_up else ""
    subject = f"{prefix}{name} for %company%" if "company" in has else f"{prefix}{name} for your team"
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = f"{prefix}{name}"[:MAX_SUBJECT_CHARS]
    return subject, "\n\n".join(paragraphs)


def _follow_up(sequence: dict[str, Any] | None) -> tuple[str | None, str]:
    """(how the skeleton names the earlier email, the sentence the reply uses) for a follow-up node."""
    if not sequence or not sequence.get("position") or not sequence.get("prior_nodes"):
        return None, ""
    prior = sequence["prior_nodes"]
    last = prior[-1]
    subject = str(last.get("subject") or "").strip()
    step = f"email {len(prior)}" + (f" ('{clean(subject)}')" if subject else "")
    total = sequence.get("total_nodes")
    where = f"email {sequence['position'] + 1}" + (f" of {total}" if total else "")
    said = f"This is {where} in the sequence, so it follows up on your earlier email" + (
        f" \"{subject}\"" if subject else "") + f" ({len(prior)} before it) instead of repeating it. "
    return step, said


def answer_turn(context: dict[str, Any], message: str) -> dict[str, Any]:
    """The offline model's answer to one chat turn, as output-tool arguments."""
    allowed = list(context.get("allowed_variables") or [])
    current = context.get("current_skeleton")
    draft = context.get("current_draft") or {}
    brief = Brief.from_skeleton(current)
    texts = _user_texts(context, message)
    for text in texts:
        brief = brief.read(text)
    assumptions: list[str] = []
    if brief.missing:
        if len(texts) == 1:
            return {"reply": _questions(brief)}
        # One round of questions is enough: fill the gaps with defaults and say so.
        brief, assumptions = brief.assuming(texts[0])
    follow_up, said = _follow_up(context.get("sequence"))
    old_body = draft.get("body")
    short = bool(SHORTER_RE.search(message)) or (old_body is not None and old_body.count("\n\n") <= 3)
    skeleton = _skeleton(brief, allowed, follow_up)
    subject, body = _draft(brief, allowed, short, follow_up)
    changes = []
    if current is None:
        changes.append("here is a first skeleton and draft")
    elif skeleton != current:
        changes.append("I revised the skeleton" + (f" to cite our {brief.proof}" if brief.proof else ""))
    if current is not None and (subject, body) != (draft.get("subject"), old_body):
        changes.append("I made the draft shorter" if SHORTER_RE.search(message) else "I updated the draft to match")
    if not changes:
        return {"reply": "I kept the skeleton and draft as they are. Tell me what to change: length, tone, the "
                         "proof point, the audience, or the call to action."}
    done = ", and ".join(changes)
    assumed = f" I assumed {'; '.join(assumptions)} (tell me if that is wrong)." if assumptions else ""
    reply = (f"{said}{done[:1].upper()}{done[1:]}.{assumed} The plan: {topic(brief.offer or '')} for {brief.audience}, "
             f"asking for {article(brief.cta or '')} {brief.cta}. Tell me what to change.")
    return {"reply": reply, "skeleton": skeleton, "draft_subject": subject, "draft_body": body}
