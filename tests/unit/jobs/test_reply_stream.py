"""The reply streams as deltas of the output tool call's ``reply`` argument, parsed incrementally."""

from __future__ import annotations

import json

import pydantic_core
import pytest
from pydantic_ai.messages import ModelResponse, ToolCallPart

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
