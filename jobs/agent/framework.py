"""AgentLLM: the framework LLM as a pydantic-ai agent, implementing :class:`jobs.llm.FrameworkLLM`.

A chat turn runs the agent node by node so the reply can stream: each model request streams a
tool call whose ``reply`` argument grows, and every new suffix becomes a ``ReplyDeltaEvent``. The
output validator (``jobs.agent.rules``) sends bad output back with ``ModelRetry`` (and reports a
``RetryEvent``; deltas after a retry restart the reply). When the retries are spent the turn fails
with :class:`ModelOutputRejected`; provider failures become JobErrors with stable codes, and their
messages are scrubbed of anything that looks like a key.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pydantic_core
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError, UnexpectedModelBehavior, UsageLimitExceeded, UserError
from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, ToolCallPart, ToolCallPartDelta
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage, UsageLimits

from core.errors import JobError, ModelOutputRejected
from core.events import ReplyDeltaEvent, Reporter, RetryEvent
from jobs.agent.output import ExampleOutput, TurnOutput
from jobs.agent.pricing import estimate_cost
from jobs.agent.prompts import EXAMPLE_INSTRUCTIONS, TURN_INSTRUCTIONS, example_prompt, turn_prompt
from jobs.agent.rules import example_problems, turn_problems
from core.usage import Usage
from jobs.llm import ExampleContext, ExampleResult, TurnContext, TurnResult

OUTPUT_RETRIES = 2  # three attempts in all, then the turn fails
REQUEST_LIMIT = 8


@dataclass
class _Deps:
    allowed: list[str]
    reporter: Reporter
    problems: list[str] = field(default_factory=list)
    retries: int = 0


class AgentLLM:
    """One agent for chat turns, one for examples, both on the same model."""

    def __init__(self, model: Model, *, name: str, token_limit: int, output_retries: int = OUTPUT_RETRIES) -> None:
        self.name = name
        self.token_limit = token_limit
        self._turns = Agent(model, output_type=TurnOutput, instructions=TURN_INSTRUCTIONS, deps_type=_Deps,
                            retries=output_retries, name="framework-chat-turn")
        self._examples = Agent(model, output_type=ExampleOutput, instructions=EXAMPLE_INSTRUCTIONS, deps_type=_Deps,
                               retries=output_retries, name="generate-email-examples")
        self._turns.output_validator(_validate_turn)
        self._examples.output_validator(_validate_example)

    def _limits(self) -> UsageLimits:
        return UsageLimits(request_limit=REQUEST_LIMIT, total_tokens_limit=self.token_limit)

    def _usage(self, usage: RunUsage) -> Usage:
        return Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, requests=usage.requests,
                     cost_usd=estimate_cost(self.name, usage.input_tokens, usage.output_tokens))

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult:
        deps = _Deps(allowed=list(ctx.allowed_vars), reporter=reporter)
        run = None
        try:
            prompt = await _turn_prompt(ctx)
            async with self._turns.iter(prompt, deps=deps, usage_limits=self._limits()) as run:
                async for node in run:
                    if Agent.is_model_request_node(node):
                        await _stream_reply(node, run, reporter)
                result = run.result
        except Exception as exc:
            error = self._job_error(exc, deps, run.usage if run is not None else None)
            if error is exc:
                raise
            raise error from exc
        assert result is not None
        out: TurnOutput = result.output
        return TurnResult(reply=out.reply, skeleton=out.skeleton.as_json() if out.skeleton else None,
                          draft_subject=out.draft_subject, draft_body=out.draft_body,
                          usage=self._usage(result.usage), retries=deps.retries)

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult:
        deps = _Deps(allowed=list(ctx.allowed_vars), reporter=reporter)
        try:
            result = await self._examples.run(example_prompt(ctx), deps=deps, usage_limits=self._limits())
        except Exception as exc:
            error = self._job_error(exc, deps, None)
            if error is exc:
                raise
            raise error from exc
        return ExampleResult(subject=result.output.subject, body=result.output.body, usage=self._usage(result.usage))

    def _job_error(self, exc: Exception, deps: _Deps, usage: RunUsage | None) -> Exception:
        error = map_error(exc, deps, self.token_limit)
        if isinstance(error, JobError) and usage is not None:
            error.usage = self._usage(usage)  # recorded on the run and the session by jobs.guard
        return error


PROMPT_OFF_LOOP_CHARS = 16_000  # user text in the transcript above which the prompt is built on a thread


async def _turn_prompt(ctx: TurnContext) -> str:
    """The turn's prompt. Its standing requests are parsed from every user message of the transcript (each
    once per process, then cached): ~5 µs a character, up to ~4 s for a transcript PATCHed full of long
    messages. That much CPU on the event loop would stall every other turn sharing it (and their lease
    renewals), so a transcript with that much user text is read on a thread."""
    user_chars = sum(len(str(m.get("content", ""))) for m in ctx.transcript if m.get("role") == "user")
    if user_chars <= PROMPT_OFF_LOOP_CHARS:
        return turn_prompt(ctx)
    return await asyncio.to_thread(turn_prompt, ctx)


async def _stream_reply(node: Any, run: Any, reporter: Reporter) -> None:
    # The raw part events, not ``stream_response()``: that one rebuilds a snapshot of the whole
    # response for every chunk (agent CPU per offline turn 5.0 -> 4.6 ms without it, through the OpenAI
    # provider's smaller pieces 57.8 -> 49.0 ms); the events carry just the new text.
    reply = ReplyStream()
    async with node.stream(run.ctx) as stream:
        async for event in stream:
            if delta := reply.feed(event):
                await reporter.emit(ReplyDeltaEvent(text=delta))


class ReplyStream:
    """The output tool call's ``reply`` argument as it grows, one new suffix at a time.

    The arguments arrive as JSON text chunk by chunk. Parsing the whole text again on every chunk is
    quadratic in its length, and everything after ``reply`` (skeleton, draft: most of the text) needs
    no parsing here at all. So: parse only when the text grew, and stop for good once ``reply`` is
    complete (another argument has begun after it, or the arguments are whole).

    Fed the stream's part events (:meth:`feed`): the first tool call part of the response is followed.
    """

    def __init__(self) -> None:
        self.emitted = ""
        self.complete = False
        self._seen = 0
        self._index: int | None = None  # the followed tool call's part index
        self._args: str | dict[str, Any] | None = None

    def feed(self, event: object) -> str:
        """The reply's new text after one stream event ('' when none)."""
        if self.complete:
            return ""
        if isinstance(event, PartStartEvent):
            if not isinstance(event.part, ToolCallPart) or self._index not in (None, event.index):
                return ""
            self._index, self._args = event.index, event.part.args  # a restarted part replaces the old one
        elif isinstance(event, PartDeltaEvent):
            delta = event.delta
            if event.index != self._index or not isinstance(delta, ToolCallPartDelta) or delta.args_delta is None:
                return ""
            if isinstance(delta.args_delta, str):
                self._args = (self._args if isinstance(self._args, str) else "") + delta.args_delta
            else:
                self._args = {**(self._args if isinstance(self._args, dict) else {}), **delta.args_delta}
        else:
            return ""
        return self.advance_args(self._args)

    def advance_args(self, args: str | dict[str, Any] | None) -> str:
        """The reply's new text given the tool call's arguments so far ('' when none)."""
        if args is None or self.complete:
            return ""
        if isinstance(args, str):
            if len(args) == self._seen:
                return ""
            self._seen = len(args)
            try:
                args = pydantic_core.from_json(args or "{}", allow_partial="trailing-strings")
            except ValueError:
                return ""
            whole = False
        else:
            whole = True  # a provider that hands over the arguments as a dict: nothing is partial
        if not isinstance(args, dict):
            return ""
        value = args.get("reply")
        self.complete = whole or (isinstance(value, str) and any(key != "reply" for key in args))
        if not isinstance(value, str) or len(value) <= len(self.emitted) or not value.startswith(self.emitted):
            return ""
        delta, self.emitted = value[len(self.emitted):], value
        return delta


async def _reject(ctx: RunContext[_Deps], problems: list[str]) -> None:
    deps = ctx.deps
    deps.problems = problems
    if ctx.retry < ctx.max_retries:  # the last rejection ends the run instead of retrying
        deps.retries += 1
        await deps.reporter.emit(RetryEvent(attempt=deps.retries, reason="; ".join(problems)))
    message = "Your output was rejected; fix these and answer again:\n- " + "\n- ".join(problems)
    raise ModelRetry(message)


async def _validate_turn(ctx: RunContext[_Deps], out: TurnOutput) -> TurnOutput:
    if ctx.partial_output:
        return out
    problems = turn_problems(out, ctx.deps.allowed)
    if problems:
        await _reject(ctx, problems)
    return out


async def _validate_example(ctx: RunContext[_Deps], out: ExampleOutput) -> ExampleOutput:
    if ctx.partial_output:
        return out
    problems = example_problems(out)
    if problems:
        await _reject(ctx, problems)
    return out


_KEYISH = re.compile(r"\b(?:sk-ant-|sk-|tr_(?:dev|prod|pat)_)[A-Za-z0-9_\-]{6,}")


def scrub(text: str) -> str:
    """Remove anything that looks like a provider key, and the values of *_API_KEY variables."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and name.endswith(("_API_KEY", "_SECRET_KEY", "_TOKEN")):
            text = text.replace(value, "[redacted]")
    return _KEYISH.sub("[redacted]", text)[:500]


def map_error(exc: Exception, deps: _Deps, token_limit: int) -> Exception:
    """The JobError a model failure becomes (stable ``code``; message safe to show the user)."""
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, UsageLimitExceeded):
        return JobError(f"the turn used more than its budget of {token_limit} tokens "
                        f"(CAMPAIGN_CHAT_TURN_TOKEN_LIMIT): {scrub(str(exc).split('. ')[0])}", code="usage_limit")
    if isinstance(exc, UnexpectedModelBehavior) and "retries" in str(exc):
        if deps.problems:
            return ModelOutputRejected(f"the model's output was rejected {deps.retries + 1} times; last problems: "
                                       + "; ".join(deps.problems))
        return ModelOutputRejected(f"the model's output never matched the required structure: {scrub(str(exc))}")
    if isinstance(exc, ModelHTTPError):
        return JobError(f"the model provider returned HTTP {exc.status_code} for model {exc.model_name}",
                        code="model_error")
    if isinstance(exc, ModelAPIError):
        return JobError(f"the model provider request failed ({type(exc).__name__}): {scrub(str(exc))}",
                        code="model_error")
    if isinstance(exc, UnexpectedModelBehavior):
        return JobError(f"the model misbehaved: {scrub(str(exc))}", code="model_error")
    if isinstance(exc, UserError):
        return JobError(f"the model is misconfigured: {scrub(str(exc))}", code="model_config")
    return exc
