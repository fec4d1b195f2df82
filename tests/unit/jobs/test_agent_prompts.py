"""The per-turn context stays bounded as a transcript grows (recent window + running summary)."""

from __future__ import annotations

from jobs.agent.prompts import SUMMARY_ITEMS, WINDOW, read_context, turn_prompt
from tests.support.scripted import turn_context


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


def test_standing_requests_cover_the_whole_conversation_not_just_the_window() -> None:
    early = [{"role": "user", "content": "Make it more casual and sign off with 'Cheers, Tom'"},
             {"role": "assistant", "content": "Changed: …"}]
    later = [m for i in range(40) for m in ({"role": "user", "content": f"request {i}: keep going"},
                                             {"role": "assistant", "content": "ok"})]
    changed_mind = [{"role": "user", "content": "Actually, more formal"}, {"role": "assistant", "content": "ok"}]
    context = read_context(turn_prompt(turn_context("latest", transcript=early + later + changed_mind)))
    assert not any("casual" in m["content"] for m in context["recent_messages"])
    assert not any("Cheers" in s for s in context["summary_of_earlier_conversation"])  # long scrolled away
    assert context["standing_requests"] == ["tone: formal", "sign-off: Cheers", "signature: Tom"]


def test_the_new_message_is_not_yet_a_standing_request() -> None:
    context = read_context(turn_prompt(turn_context("Make it shorter", transcript=[])))
    assert context["standing_requests"] == []


def test_a_language_asked_for_stays_in_the_context_after_its_message_scrolls_away() -> None:
    """A hosted model keeps writing in the language asked for at the start of a long conversation."""
    early = [{"role": "user", "content": "Write a cold email in German to CFOs about Ledgerly"},
             {"role": "assistant", "content": "Who is it for?"}]
    later = [m for i in range(40) for m in ({"role": "user", "content": f"request {i}: keep going"},
                                             {"role": "assistant", "content": "ok"})]
    context = read_context(turn_prompt(turn_context("latest", transcript=early + later)))
    assert "language: German" in context["standing_requests"]
    back = [{"role": "user", "content": "back to English please"}, {"role": "assistant", "content": "ok"}]
    context = read_context(turn_prompt(turn_context("latest", transcript=early + later + back)))
    assert not any(line.startswith("language") for line in context["standing_requests"])
