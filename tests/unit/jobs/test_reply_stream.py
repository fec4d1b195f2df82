"""The reply streams as deltas of the output tool call's ``reply`` argument, parsed incrementally."""

from __future__ import annotations

import json

import pydantic_core
import pytest
from pydantic_ai.messages import ModelResponse, PartDeltaEvent, PartStartEvent, TextPart, ToolCallPart, ToolCallPartDelta

from jobs.agent import framework
from jobs.agent.framework import ReplyStream


def _response(args: str | dict[str, object]) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart("final_result", args)])


def test_deltas_rebuild_the_reply_and_parsing_stops_once_it_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps({"reply": "Here is a first draft for VPs of Sales.", "draft_subject": "Hi", "draft_body": "x" * 500})
    parses: list[int] = []
    real = pydantic_core.from_json

    def counting(data: str, **kwargs: object) -> object:
        parses.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(framework.pydantic_core, "from_json", counting)
    stream, deltas = ReplyStream(), []
    for end in range(7, len(text) + 1, 7):
        deltas.append(stream.advance(_response(text[:end])))
        deltas.append(stream.advance(_response(text[:end])))  # the same text again: nothing new, no parse
    assert "".join(deltas) == "Here is a first draft for VPs of Sales."
    assert stream.complete
    # Parsed while the reply grew, until the next argument's value began; never the long body after it.
    next_value = text.index('"Hi"')
    assert max(parses) <= next_value + 7
    assert len(parses) <= next_value // 7 + 2


def test_arguments_handed_over_whole_give_the_reply_at_once() -> None:
    stream = ReplyStream()
    assert stream.advance(_response({"reply": "Done.", "draft_body": "b"})) == "Done."
    assert stream.complete and stream.advance(_response({"reply": "Done. More"})) == ""


def test_a_reply_that_restarts_emits_nothing_until_it_extends_what_was_sent() -> None:
    stream = ReplyStream()
    assert stream.advance(_response('{"reply": "Hello wor')) == "Hello wor"
    assert stream.advance(_response('{"reply": "Bye')) == ""
    assert stream.advance(_response('{"reply": "Hello world')) == "ld"


def _events(text: str, size: int, *, index: int = 0) -> list[object]:
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    start = PartStartEvent(index=index, part=ToolCallPart("final_result", pieces[0]))
    return [start, *(PartDeltaEvent(index=index, delta=ToolCallPartDelta(args_delta=p)) for p in pieces[1:])]


def test_part_events_give_the_same_deltas_as_response_snapshots() -> None:
    text = json.dumps({"reply": "Here is a first draft for VPs of Sales.", "draft_body": "x" * 300})
    stream = ReplyStream()
    from_events = [stream.feed(event) for event in _events(text, 9)]
    snapshots = ReplyStream()
    from_snapshots = [snapshots.advance(_response(text[:end])) for end in range(9, len(text) + 9, 9)]
    assert "".join(from_events) == "".join(from_snapshots) == "Here is a first draft for VPs of Sales."
    assert [d for d in from_events if d] == [d for d in from_snapshots if d]
    assert stream.complete


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
