"""Scripted framework models for tests: they stand in for the LLM provider, the edge we cannot reach.

GatedModel / BlockingModel / HeldModel hold a turn inside its model call until the test lets go (the
blocking one also records that a cancel abandoned it); FailingModel fails like a provider outage
(a JobError with a code); CrashingModel raises an unexpected error; EchoModel answers at once."""

from __future__ import annotations

import asyncio
from typing import Any

from core.errors import JobError
from core.events import ReplyDeltaEvent, Reporter
from core.usage import Usage
from jobs.llm import ExampleContext, ExampleResult, TurnContext, TurnResult


class GatedModel:
    """Holds every turn until ``release()``: lets a test observe a session while its task runs."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.calls: list[TurnContext] = []

    def release(self) -> None:
        self.gate.set()

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        self.calls.append(ctx)
        self.entered.set()
        await reporter.emit(ReplyDeltaEvent(text="thinking "))
        await self.gate.wait()
        return TurnResult(reply=f"ok: {ctx.message}", usage=Usage(input_tokens=10, output_tokens=3, requests=1, cost_usd=0.001))

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        await self.gate.wait()
        return ExampleResult(subject="s", body=f"Hi {ctx.lead.first_name}")


class FailingModel:
    """Every turn fails the way a provider outage does."""

    name = "failing"

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        raise JobError("the model provider answered 503", code="model_error")

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        raise JobError("the model provider answered 503", code="model_error")


class EchoModel:
    """A plain scripted model: replies to each message, proposes a skeleton and draft from the second turn."""

    name = "echo"

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        user_turns = sum(1 for m in ctx.transcript if m.get("role") == "user")
        await reporter.emit(ReplyDeltaEvent(text=f"echo: {ctx.message}"))
        if user_turns < 2:
            return TurnResult(reply=f"echo: {ctx.message}", usage=Usage(input_tokens=5, output_tokens=2, requests=1))
        version = (ctx.framework_version or 0) + 1
        return TurnResult(
            reply=f"echo: {ctx.message}",
            skeleton={"hook": "h", "value_prop": ctx.message[:100], "revision": version},
            draft_subject="Quick idea", draft_body=f"Hi %first_name%, {ctx.message[:100]}",
            usage=Usage(input_tokens=5, output_tokens=2, requests=1),
        )

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        return ExampleResult(subject="Quick idea", body=f"Hi {ctx.lead.first_name or 'there'}")


class HeldModel(EchoModel):
    """An echo model whose turns wait until ``finish()``: a model call that hangs until told otherwise."""

    name = "held"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        await self.release.wait()
        return await super().chat_turn(ctx, reporter)

    async def finish(self) -> None:
        self.release.set()


class BlockingModel:
    name = "blocking"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.abandoned = False

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        await reporter.emit(ReplyDeltaEvent(text="Let me think"))
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.abandoned = True
            raise
        return TurnResult(reply="Here you go.", usage=Usage(input_tokens=3, output_tokens=3, requests=1, cost_usd=0.002))

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        raise AssertionError("not used")


class CrashingModel:
    """Every turn raises an unexpected error, as a provider SDK crashing would (not a JobError)."""

    name = "crashing"

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> Any:
        raise RuntimeError("provider returned 500")

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        raise AssertionError("not used")
