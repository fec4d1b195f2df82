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


def test_json_lines_carry_what_structlogs_chain_wrote_for_the_same_record() -> None:
    """The JSON formatter is built by hand for speed; it must write the fields structlog's processor
    chain (the console format's, with the JSON renderer) writes: message, context, level, logger,
    extras, the exception, redaction; a value JSON cannot hold becomes its repr."""
    import structlog

    from ops.logs import structlog_formatter

    reference = structlog_formatter(structlog.processors.JSONRenderer(default=repr))
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    (handler,) = logging.getLogger().handlers
    captured: list[logging.LogRecord] = []
    handler.addFilter(lambda record: captured.append(record) or True)
    logger = logging.getLogger("campaign_chat.test")

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    with bound(request_id="req_1", session_id="from-context", run_id=None):
        logger.info("request %s", "done", extra={"status": 202, "session_id": "from-extra", "thing": Opaque(),
                                                 "detail": "Bearer abc.def"})
        try:
            raise ValueError("bad cc_live_Key_1")
        except ValueError:
            logger.exception("failed")
        written = [json.loads(line) for line in stream.getvalue().splitlines()]
        expected = [json.loads(reference.format(record)) for record in captured]
    assert len(written) == len(expected) == 2
    for ours, theirs in zip(written, expected, strict=True):
        assert ours.pop("timestamp").endswith("Z") and theirs.pop("timestamp").endswith("Z")
        assert ours == theirs
    assert written[0]["session_id"] == "from-extra" and written[0]["thing"] == "<opaque>"
    assert written[0]["detail"] == "[redacted]" and "cc_live_Key" not in written[1]["exception"]
    assert written[1]["exception"].startswith("Traceback") and written[1]["level"] == "error"


def test_json_logging_does_not_load_structlog() -> None:
    """structlog brings rich and pygments (~0.1-0.2 s of start-up): only the console format loads it."""
    import subprocess
    import sys

    code = ("import io, logging, sys; from core.settings import Settings; from ops.logs import configure_logging, bound;"
            "configure_logging(Settings(log_format='json'), stream=io.StringIO());"
            "exec('with bound(run_id=\\'r\\'):\\n logging.getLogger(\\'x\\').info(\\'hi\\')');"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('structlog', 'rich', 'pygments')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_bound_context_is_restored_after_the_block_and_binds_inside_it_do_not_leak() -> None:
    from ops.logs import bind, current

    with bound(request_id="req_1"):
        bind(session_id="s1")
        with bound(run_id="run_1", request_id=None):  # None: keep what is bound
            assert (current("request_id"), current("session_id"), current("run_id")) == ("req_1", "s1", "run_1")
        assert current("run_id") is None and current("session_id") == "s1"
    assert current("request_id") is None and current("session_id") is None


def test_every_record_is_one_json_line_whatever_characters_it_carries() -> None:
    """Found by the contract test's fuzzing: msgspec wrote U+2028 and U+0085 as they are (some readers,
    Python's str.splitlines among them, break lines there) and refused lone surrogates (the line was lost)."""
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    texts = ["line\u2028separator", "next\x85line", "bad \udcff byte", "new\nline", "caf\u00e9 \U0001f600", "plain"]
    logger = logging.getLogger("campaign_chat.test")
    for text in texts:
        logger.warning("path %s", text, extra={"detail": text})
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(texts)
    for line, text in zip(lines, texts, strict=True):
        record = json.loads(line)
        assert record["event"] == f"path {text}" and record["detail"] == text
