"""Instructions and the per-call context the model sees.

The context is one JSON block (easy for real models to read, and parseable by the offline model,
so both follow the same protocol). It stays bounded however long the transcript grows: the last
``WINDOW`` messages verbatim, and a running summary of everything older: the user's earlier
requests, clipped, newest ``SUMMARY_ITEMS`` kept. What the conversation converged on lives in the
current skeleton and draft, which are always included, so the summary only needs the asks. What
the user asked for over the whole conversation is stated once more, parsed and accumulated, as
``standing_requests`` ("tone: casual", "length: at most 79 words", "sign-off: Cheers", …; see
``jobs.agent.requests``): bounded too, since a later request of a kind replaces an earlier one.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from jobs.agent.requests import standing
from jobs.llm import ExampleContext, TurnContext

WINDOW = 8
SUMMARY_ITEMS = 12
MESSAGE_CHARS = 2_000
SUMMARY_CHARS = 160
PRIOR_NODE_CHARS = 600
MAX_SAMPLE_LEADS = 5
CONTEXT_OPEN, CONTEXT_CLOSE = "<context>", "</context>"

TURN_INSTRUCTIONS = """\
You are the framework LLM of a cold-email drafting tool. Each turn you answer the user and, once you
know the audience, the offer and the call to action, you propose a skeleton (audience, offer, and the
blocks hook, value_prop, proof, cta, each with a strategy and per-lead personalization: fields,
approach, fallback) and a draft subject and body.

Rules for every text you write (reply, audience, offer, each strategy, approach and fallback,
draft_subject, draft_body):
- Use variables only as %name% and only names in allowed_variables (or write the words out).
- &&instruction&& marks text you want written per lead; it must not be empty and must be closed.
- A lone % is only allowed right after a number (40%).
- No spammy phrases ("act now", "guaranteed", "click here"...) in anything that goes into the email
  (skeleton, subject, body); the reply may quote them.
- The subject is at most 60 characters. Skeleton personalization fields are allowed variable names without %.
Until audience, offer and call to action are all known, ask short clarifying questions and leave
skeleton and draft empty. On feedback, return the revised draft (and skeleton if its plan changed).
standing_requests lists what the user asked for in earlier turns, accumulated: a later request of a
kind replaces an earlier one. Every draft must keep honouring all of them unless the new message
changes one; apply the new message on top. In the reply, name each element you changed and its new
value; if nothing changed, say so, and say plainly when you did not understand a request.
If sequence.position > 0 this email is a follow-up: acknowledge sequence.prior_nodes, do not repeat them.
"""

EXAMPLE_INSTRUCTIONS = """\
Write the final cold email for ONE lead from the skeleton and draft template in the context.
Replace every %variable% with the lead's value (or the block's fallback when it is missing), and
write every &&instruction&& span as the text it asks for. The result must contain no %variables%
and no && markers; the subject stays at most 60 characters; avoid spammy phrases.
"""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def transcript_window(transcript: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, str]]]:
    """(running summary of older messages, recent messages verbatim)."""
    older, recent = transcript[:-WINDOW] if len(transcript) > WINDOW else [], transcript[-WINDOW:]
    asks = [_clip(str(m.get("content", "")), SUMMARY_CHARS) for m in older if m.get("role") == "user"]
    summary = []
    if len(asks) > SUMMARY_ITEMS:
        summary.append(f"({len(asks) - SUMMARY_ITEMS} earlier requests omitted)")
    summary += [f"user asked: {a}" for a in asks[-SUMMARY_ITEMS:]]
    window = [{"role": str(m.get("role")), "content": _clip(str(m.get("content", "")), MESSAGE_CHARS)} for m in recent]
    return summary, window


def _sequence(ctx_sequence: Any) -> dict[str, Any] | None:
    if ctx_sequence is None:
        return None
    seq = msgspec.to_builtins(ctx_sequence)
    seq["prior_nodes"] = [{k: _clip(str(v), PRIOR_NODE_CHARS) for k, v in node.items()}
                          for node in seq.get("prior_nodes") or []]
    return seq


def _block(data: dict[str, Any]) -> str:
    return f"{CONTEXT_OPEN}\n{json.dumps(data, ensure_ascii=False, indent=1)}\n{CONTEXT_CLOSE}"


def turn_prompt(ctx: TurnContext) -> str:
    transcript = list(ctx.transcript)
    if transcript and transcript[-1].get("role") == "user" and transcript[-1].get("content") == ctx.message:
        transcript = transcript[:-1]  # the new message is shown on its own below
    summary, window = transcript_window(transcript)
    data = {
        "allowed_variables": ctx.allowed_vars,
        "sample_leads": [msgspec.to_builtins(lead) for lead in ctx.sample_leads[:MAX_SAMPLE_LEADS]],
        "sequence": _sequence(ctx.sequence_context),
        "current_skeleton": ctx.skeleton,
        "framework_version": ctx.framework_version,
        "current_draft": {"subject": ctx.draft_subject, "body": ctx.draft_body},
        "standing_requests": standing(m.get("content", "") for m in transcript if m.get("role") == "user").lines(),
        "summary_of_earlier_conversation": summary,
        "recent_messages": window,
    }
    return f"{_block(data)}\n\nNew message from the user:\n{_clip(ctx.message, MESSAGE_CHARS * 4)}"


def example_prompt(ctx: ExampleContext) -> str:
    data = {
        "lead": msgspec.to_builtins(ctx.lead),
        "allowed_variables": ctx.allowed_vars,
        "skeleton": ctx.skeleton,
        "draft_template": {"subject": ctx.draft_subject, "body": ctx.draft_body},
        "sequence": _sequence(ctx.sequence_context),
    }
    return f"{_block(data)}\n\nWrite the email for this lead."


def read_context(prompt: str) -> dict[str, Any]:
    """The JSON context inside a prompt (used by the offline model); {} when there is none."""
    start, end = prompt.find(CONTEXT_OPEN), prompt.find(CONTEXT_CLOSE)
    if start < 0 or end < start:
        return {}
    try:
        return json.loads(prompt[start + len(CONTEXT_OPEN): end])
    except ValueError:
        return {}


def new_message(prompt: str) -> str:
    marker = "New message from the user:\n"
    return prompt.split(marker, 1)[1] if marker in prompt else ""
