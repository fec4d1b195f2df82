"""Framework models scripted at the LLM edge (the one thing a test may replace): one that blocks
until released (so a turn can be observed and cancelled mid-model-call) and one that fails."""

from __future__ import annotations

import asyncio
from typing import Any

from core.events import ReplyDeltaEvent, Reporter
from core.usage import Usage
from jobs.llm import ExampleContext, ExampleResult, TurnContext, TurnResult


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


class FailingModel:
    name = "failing"

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> Any:
        raise RuntimeError("provider returned 500")

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        raise AssertionError("not used")
