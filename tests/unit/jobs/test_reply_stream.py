"""The reply streams as deltas of the output tool call's ``reply`` argument, parsed incrementally."""

from __future__ import annotations

import json

import pydantic_core
import pytest
from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, TextPart, ToolCallPart, ToolCallPartDelta

from jobs.agent import framework
from jobs.agent.framework import ReplyStream


def _events(text: str, size: int, *, index: int = 0) -> list[object]:
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    start = PartStartEvent(index=index, part=ToolCallPart("final_result", pieces[0]))
    return [start, *(PartDeltaEvent(index=index, delta=ToolCallPartDelta(args_delta=p)) for p in pieces[1:])]


def _nothing_new(index: int = 0) -> PartDeltaEvent:
    return PartDeltaEvent(index=index, delta=ToolCallPartDelta(args_delta=""))


def test_deltas_rebuild_the_reply_and_parsing_stops_once_it_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps({"reply": "Here is a first draft for VPs of Sales.", "draft_subject": "Hi", "draft_body": "x" * 500})
    parses: list[int] = []
    real = pydantic_core.from_json

    def counting(data: str, **kwargs: object) -> object:
        parses.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(framework.pydantic_core, "from_json", counting)
    stream, deltas = ReplyStream(), []
    for event in _events(text, 7):
        deltas.append(stream.feed(event))
        deltas.append(stream.feed(_nothing_new()))  # the text did not grow: nothing new, no parse
    assert "".join(deltas) == "Here is a first draft for VPs of Sales."
    assert stream.complete
    # Parsed while the reply grew, until the next argument's value began; never the long body after it.
    next_value = text.index('"Hi"')
    assert max(parses) <= next_value + 7
    assert len(parses) <= next_value // 7 + 2


def test_arguments_handed_over_whole_give_the_reply_at_once() -> None:
    stream = ReplyStream()
    assert stream.feed(PartStartEvent(index=0, part=ToolCallPart("final_result", {"reply": "Done.", "draft_body": "b"}))) \
        == "Done."
    assert stream.complete
    assert stream.feed(PartDeltaEvent(index=0, delta=ToolCallPartDelta(args_delta={"reply": "Done. More"}))) == ""


def test_a_reply_that_restarts_emits_nothing_until_it_extends_what_was_sent() -> None:
    stream = ReplyStream()
    assert stream.advance_args('{"reply": "Hello wor') == "Hello wor"
    assert stream.advance_args('{"reply": "Bye') == ""
    assert stream.advance_args('{"reply": "Hello world') == "ld"


def test_part_events_in_any_piece_size_give_the_same_deltas() -> None:
    text = json.dumps({"reply": "Here is a first draft for VPs of Sales.", "draft_body": "x" * 300})
    by_size = {}
    for size in (1, 9, 48, len(text)):
        stream = ReplyStream()
        by_size[size] = "".join(stream.feed(event) for event in _events(text, size))
        assert stream.complete
    assert set(by_size.values()) == {"Here is a first draft for VPs of Sales."}


def test_only_the_first_tool_call_is_followed_and_other_parts_are_ignored() -> None:
    stream = ReplyStream()
    text_part = PartStartEvent(index=0, part=TextPart("thinking out loud"))
    other = [PartStartEvent(index=2, part=ToolCallPart("other_tool", '{"reply": "not this')),
             PartDeltaEvent(index=2, delta=ToolCallPartDelta(args_delta=' one"}'))]
    mine = _events('{"reply": "Hello there"}', 5, index=1)
    deltas = [stream.feed(e) for e in [text_part, mine[0], *other, *mine[1:]]]
    assert "".join(deltas) == "Hello there"


def test_a_restarted_part_replaces_the_text_before_it() -> None:
    stream = ReplyStream()
    assert stream.feed(PartStartEvent(index=0, part=ToolCallPart("final_result", '{"reply": "Hel'))) == "Hel"
    assert stream.feed(PartStartEvent(index=0, part=ToolCallPart("final_result", '{"reply": "Hex'))) == ""
    assert stream.feed(PartStartEvent(index=0, part=ToolCallPart("final_result", '{"reply": "Hello'))) == "lo"


def test_dict_arguments_in_events_give_the_reply_at_once() -> None:
    stream = ReplyStream()
    assert stream.feed(PartStartEvent(index=0, part=ToolCallPart("final_result", {"reply": "Done."}))) == "Done."
    assert stream.complete
