"""Scripted framework models for tests: they stand in for the LLM provider, the edge we cannot reach."""

from __future__ import annotations

import asyncio

from core.errors import JobError
from core.events import ReplyDeltaEvent, Reporter
from jobs.llm import ExampleContext, ExampleResult, TurnContext, TurnResult, Usage


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
