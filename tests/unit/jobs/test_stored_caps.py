"""What a turn and the output rules do at the session's caps (core.limits): growing lists keep their
newest entries, and the model is asked to shorten what would not fit."""

from __future__ import annotations

from core import limits
from jobs.agent.output import Block, ExampleOutput, Personalization, Skeleton, TurnOutput
from jobs.agent.rules import example_problems, turn_problems
from jobs.chat_turn import apply_result
from jobs.llm import TurnResult
from store.rows import SessionRow


def test_a_turn_at_every_cap_keeps_the_newest_entries_of_each_growing_list() -> None:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(limits.MAX_MESSAGES)]
    session = SessionRow(
        id="s", user_id="u", campaign_id="c", node_id="n", messages=messages,
        skeleton={"v": "current"}, skeleton_history=[{"v": i} for i in range(limits.MAX_SKELETON_HISTORY)],
        draft_subject="old subject", draft_body="old body",
        draft_history=[{"subject": f"s{i}", "body": "b"} for i in range(limits.MAX_DRAFT_HISTORY)])
    result = TurnResult(reply="new reply", skeleton={"v": "new"}, draft_subject="new subject", draft_body="new body")

    values, _ = apply_result(session, result)

    assert len(values["messages"]) == limits.MAX_MESSAGES
    assert values["messages"][0] == messages[1] and values["messages"][-1]["content"] == "new reply"
    assert len(values["skeleton_history"]) == limits.MAX_SKELETON_HISTORY
    assert values["skeleton_history"][0] == {"v": 1} and values["skeleton_history"][-1] == {"v": "current"}
    assert len(values["draft_history"]) == limits.MAX_DRAFT_HISTORY
    assert values["draft_history"][-1] == {"subject": "old subject", "body": "old body"}


def block() -> Block:
    return Block(strategy="Open with their team", personalization=Personalization(approach="a", fallback="f"))


def test_model_output_that_would_not_fit_the_caps_is_sent_back() -> None:
    long_reply = TurnOutput(reply="x" * (limits.MAX_REPLY_CHARS + 1))
    assert any("reply is" in p and str(limits.MAX_REPLY_CHARS) in p for p in turn_problems(long_reply, []))
    huge = Skeleton(audience="VPs " * 5_000, offer="o", hook=block(), value_prop=block(), proof=block(), cta=block())
    assert any("skeleton" in p and "characters" in p for p in turn_problems(TurnOutput(reply="ok", skeleton=huge), []))
    assert turn_problems(TurnOutput(reply="x" * limits.MAX_REPLY_CHARS), []) == []
    long_body = ExampleOutput(subject="Hi", body="y" * (limits.MAX_EXAMPLE_BODY_CHARS + 1))
    assert any("body is" in p for p in example_problems(long_body))
