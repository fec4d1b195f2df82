"""A small deterministic framework model with no dependencies.

It asks one clarifying question on the first turn, then proposes a skeleton and a draft that use
only whitelisted variables, and it revises the draft on later turns. It keeps the service usable
where no LLM is configured and gives tests a model whose every answer is known in advance.
"""

from __future__ import annotations

from core.events import ReplyDeltaEvent, Reporter
from jobs.llm import ExampleContext, ExampleResult, TurnContext, TurnResult, Usage


def _words(text: str) -> int:
    return max(1, len(text.split()))


class SimpleModel:
    name = "simple"

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        user_turns = sum(1 for m in ctx.transcript if m.get("role") == "user")
        first = "first_name" if "first_name" in ctx.allowed_vars else None
        company = "company" if "company" in ctx.allowed_vars else None
        if user_turns <= 1 and ctx.skeleton is None:
            reply = "Who is the audience, what is the offer, and what should the reader do next?"
            skeleton = subject = body = None
        else:
            version = (ctx.framework_version or 0) + 1
            skeleton = {
                "hook": "pattern-interrupt question tied to the reader's role",
                "value_prop": ctx.message[:200],
                "proof": "one customer result",
                "cta": "ask for a 15-minute call",
                "revision": version,
            }
            greeting = f"Hi %{first}%," if first else "Hi there,"
            subject = f"Quick idea for %{company}%" if company else "Quick idea"
            body = f"{greeting}\n\n{ctx.message[:300]}\n\nWorth a 15-minute call next week?"
            reply = f"Here is draft {version}. Tell me what to change."
        for chunk in reply.split(" "):
            await reporter.emit(ReplyDeltaEvent(text=chunk + " "))
        prompt = sum(_words(m.get("content", "")) for m in ctx.transcript)
        usage = Usage(input_tokens=prompt, output_tokens=_words(reply), requests=1, cost_usd=0.0)
        return TurnResult(reply=reply, skeleton=skeleton, draft_subject=subject, draft_body=body, usage=usage)

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        name = ctx.lead.first_name or "there"
        company = ctx.lead.company or "your team"
        subject = f"Quick idea for {company}"
        body = f"Hi {name},\n\n{ctx.skeleton.get('value_prop', '')}\n\nWorth a 15-minute call next week?"
        return ExampleResult(subject=subject, body=body, usage=Usage(input_tokens=20, output_tokens=_words(body), requests=1))
