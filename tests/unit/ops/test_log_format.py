"""Log format selection, context binding and the redaction safety net."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest

from core.settings import Settings
from ops.logs import bound, configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level


def emit(settings: Settings, stream: io.StringIO) -> str:
    configure_logging(settings, stream=stream)
    with bound(run_id="run_abc", session_id="sess-1", request_id=None):
        logging.getLogger("campaign_chat.test").info("turn finished", extra={"outcome": "succeeded"})
    return stream.getvalue().strip()


def test_auto_writes_json_when_not_on_a_terminal() -> None:
    line = json.loads(emit(Settings(log_format="auto"), io.StringIO()))
    assert line["event"] == "turn finished" and line["outcome"] == "succeeded"
    assert line["run_id"] == "run_abc" and line["session_id"] == "sess-1" and "request_id" not in line
    assert line["level"] == "info" and line["logger"] == "campaign_chat.test" and line["timestamp"].endswith("Z")


def test_auto_writes_console_lines_on_a_terminal_and_console_can_be_forced() -> None:
    for settings, stream in ((Settings(log_format="auto"), Terminal()), (Settings(log_format="console"), io.StringIO())):
        text = emit(settings, stream)
        assert not text.startswith("{") and "turn finished" in text and "run_id=run_abc" in text


def test_anything_shaped_like_a_credential_is_redacted() -> None:
    stream = io.StringIO()
    configure_logging(replace(Settings(), log_format="json"), stream=stream)
    logging.getLogger("campaign_chat.test").warning(
        "upstream said %s", "Authorization: Bearer sk-live-123 and cc_live_AbC-123_x and eyJhbGciOi.eyJzdWIi.c2ln")
    text = stream.getvalue()
    assert "sk-live-123" not in text and "cc_live_AbC" not in text and "eyJhbGciOi" not in text
    assert json.loads(text)["event"].count("[redacted]") == 3
