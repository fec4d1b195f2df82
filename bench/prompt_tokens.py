"""Prompt size against turn number, 1..50, for a chat held with the offline model.

Prints, per turn: the prompt's estimated tokens (whitespace/punctuation split, the estimate the
offline model reports as input tokens) and its characters, with and without the bounded context
(recent window + running summary) — the unbounded column is what sending the whole transcript
would cost. Run: ``uv run python bench/prompt_tokens.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic_ai._utils import estimate_string_tokens  # noqa: E402

from core.events import NullReporter  # noqa: E402
from core.payloads import Lead  # noqa: E402
from jobs.agent import AgentLLM  # noqa: E402
from jobs.agent.offline import offline_model  # noqa: E402
from jobs.agent.prompts import TURN_INSTRUCTIONS, turn_prompt  # noqa: E402
from jobs.llm import TurnContext, allowed_variables  # noqa: E402

MESSAGES = [
    "Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI",
    "We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo.",
    "Make it shorter",
    "Mention our SOC 2 Type II report",
    "Can you make the opening line less salesy and more about their quarter?",
]


async def main(turns: int = 50) -> None:
    llm = AgentLLM(offline_model(), name="offline", token_limit=10_000_000)
    leads = [Lead(first_name="Sara", last_name="Lee", company="Acme", position="VP Sales")]
    allowed = allowed_variables(None, leads)
    transcript: list[dict[str, str]] = []
    skeleton = None
    draft: tuple[str | None, str | None] = (None, None)
    version = None
    print(f"{'turn':>4} {'prompt_tokens':>13} {'prompt_chars':>12} {'unbounded_tokens':>16} {'reported_input':>14}")
    for turn in range(1, turns + 1):
        message = MESSAGES[min(turn - 1, len(MESSAGES) - 1)] if turn <= len(MESSAGES) else MESSAGES[turn % 3 + 2]
        transcript.append({"role": "user", "content": message})
        ctx = TurnContext(message=message, transcript=list(transcript), skeleton=skeleton, framework_version=version,
                          draft_subject=draft[0], draft_body=draft[1], allowed_vars=allowed, sample_leads=leads,
                          sequence_context=None)
        prompt = TURN_INSTRUCTIONS + turn_prompt(ctx)
        unbounded = TURN_INSTRUCTIONS + json.dumps(transcript) + turn_prompt(ctx)
        result = await llm.chat_turn(ctx, NullReporter())
        transcript.append({"role": "assistant", "content": result.reply})
        if result.skeleton is not None and result.skeleton != skeleton:
            skeleton, version = result.skeleton, (version or 0) + 1
        if result.draft_body is not None:
            draft = (result.draft_subject, result.draft_body)
        if turn <= 10 or turn % 5 == 0:
            print(f"{turn:>4} {estimate_string_tokens(prompt):>13} {len(prompt):>12} "
                  f"{estimate_string_tokens(unbounded):>16} {result.usage.input_tokens:>14}")


if __name__ == "__main__":
    asyncio.run(main())
