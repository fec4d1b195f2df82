"""The per-turn context stays bounded as a transcript grows (recent window + running summary)."""

from __future__ import annotations

from jobs.agent.prompts import SUMMARY_ITEMS, WINDOW, read_context, turn_prompt
from tests.jobs.scripted import turn_context


def transcript(turns: int) -> list[dict[str, str]]:
    out = []
    for i in range(turns):
        out += [{"role": "user", "content": f"request {i}: " + "make it punchier " * 20},
                {"role": "assistant", "content": f"reply {i}: " + "here is the revision " * 20}]
    return out


def test_recent_messages_are_verbatim_and_older_asks_are_summarised() -> None:
    context = read_context(turn_prompt(turn_context("latest", transcript=transcript(10))))
    recent = context["recent_messages"]
    assert len(recent) == WINDOW and recent[-1]["content"].startswith("reply 9:")
    summary = context["summary_of_earlier_conversation"]
    assert summary[0].startswith("user asked: request 0:") and summary[-1].startswith("user asked: request 5:")


def test_the_prompt_stops_growing_once_the_window_and_summary_are_full() -> None:
    sizes = [len(turn_prompt(turn_context("latest", transcript=transcript(n)))) for n in (20, 35, 50)]
    assert max(sizes) - min(sizes) <= 10  # only the digits of turn numbers and the omitted count differ
    summary = read_context(turn_prompt(turn_context("latest", transcript=transcript(50))))["summary_of_earlier_conversation"]
    assert len(summary) == SUMMARY_ITEMS + 1 and "earlier requests omitted" in summary[0]
