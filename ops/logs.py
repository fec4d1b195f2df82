"""Structured logging: one JSON line per event on stdout, or a console format for humans.

Every line goes through the one stdout handler set up here, including the stdlib ``logging`` calls
spread across the code (``logging.getLogger("campaign_chat…")``) and library loggers (uvicorn,
arq), so every line carries the context bound with :func:`bound` — ``request_id``, ``session_id``,
``run_id``, ``task``, ``backend`` — wherever it is known. Context lives in a contextvar, so a task
started from a request inherits it, and a worker binds it from the payload.

The JSON format (the default off a terminal) is :class:`JsonLines`, built straight from the record.
The console format is structlog's renderer, imported only when it is chosen: structlog loads
``rich`` and ``pygments`` with it (~0.1-0.2 s of every process's start-up, the CLI's included).

Secrets are never logged on purpose; :func:`_redact` is the safety net that masks anything shaped
like an API key, a bearer credential or a JWT that slips into a message anyway.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import msgspec

from core.settings import Settings

CONTEXT_KEYS = ("request_id", "session_id", "run_id", "task", "backend")
_SECRET = re.compile(
    r"cc_live_[A-Za-z0-9_\-]+"  # our API keys
    r"|tr_(?:dev|prod|local|pat)_[A-Za-z0-9_\-]+"  # Trigger.dev keys and our token secret
    r"|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"  # JWTs (public access tokens)
    r"|(?i:bearer)\s+\S+"
)
# Chatty libraries whose INFO lines can carry URLs with credentials or add nothing for operators.
_QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "aiosqlite": logging.WARNING,
          "sqlalchemy": logging.WARNING, "uvicorn.access": logging.WARNING,
          "alembic.runtime.plugins": logging.WARNING}
# The bound context: one immutable mapping per context, replaced (never changed in place) by a bind,
# so a task sees what was bound where it was created and its own binds stay its own.
_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "campaign_chat_log_context", default=MappingProxyType({}))


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.pop("color_message", None)  # uvicorn's ANSI duplicate of the message
    for key, value in event_dict.items():
        if isinstance(value, str) and key != "timestamp":
            event_dict[key] = _SECRET.sub("[redacted]", value)
    return event_dict


# The attributes every LogRecord has; any other attribute came from ``extra=`` and becomes a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_encoder = msgspec.json.Encoder(enc_hook=repr)  # a value JSON cannot hold is written as its repr


class JsonLines(logging.Formatter):
    """The JSON format: one object per record with ``event`` (the message), the bound context, ``level``,
    ``logger``, ``timestamp`` (ISO 8601, UTC, ``Z``), the record's ``extra=`` fields and, when there is
    one, ``exception`` (the traceback); string values pass :func:`_redact`'s patterns.

    Built directly from the record. structlog's ``ProcessorFormatter``, used before, wrote the same
    fields but copied the record and ran a chain of processors and ``json.dumps``: ~22 us a line, one
    line per request (the access line), so a few per cent of a poll's or a dispatch's CPU."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"event": record.getMessage(), **_CONTEXT.get(),
                                "level": record.levelname.lower(), "logger": record.name,
                                "timestamp": _utc_iso(record.created)}
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        _redact(None, "", line)
        try:
            return _encoder.encode(line).decode("ascii")  # the common case: an ASCII line, encoded fast
        except (ValueError, msgspec.MsgspecError):
            # Non-ASCII text or a lone surrogate (decoded from bad input): json.dumps escapes both, so a
            # line stays one line for every reader (U+2028 and U+0085 split lines in some) and is never lost.
            return json.dumps(line, default=repr)


def _utc_iso(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")


def _console(settings: Settings, stream: Any) -> bool:
    fmt = settings.log_format
    if fmt == "auto":
        return bool(getattr(stream, "isatty", lambda: False)())
    return fmt == "console"


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Route stdlib logging (ours and the libraries') to one stdout handler with the chosen format. Idempotent."""
    stream = stream or sys.stdout
    formatter = _console_formatter() if _console(settings, stream) else JsonLines()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(max(level, logging.getLevelName(settings.log_level)))
    for name in ("uvicorn", "uvicorn.error", "arq", "arq.worker"):
        # Let library loggers that install their own handlers flow into ours instead.
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def _console_formatter() -> logging.Formatter:
    """structlog's console renderer (imported only here)."""
    import structlog

    return structlog_formatter(structlog.dev.ConsoleRenderer(colors=False))


def structlog_formatter(renderer: Any) -> logging.Formatter:
    """structlog's processor chain fed the same fields as :class:`JsonLines`, ending in ``renderer``."""
    import structlog

    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[merge_context, structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                           structlog.processors.TimeStamper(fmt="iso", utc=True), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )


def merge_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: the bound context under the event's own fields."""
    return {**_CONTEXT.get(), **event_dict}


@contextlib.contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind context fields (None values skipped) for the duration of the block, then restore."""
    token = _CONTEXT.set(_with(values))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current(name: str) -> Any:
    """A context field bound for the current request or task, or None."""
    return _CONTEXT.get().get(name)


def bind(**values: Any) -> None:
    """Bind context fields until the current context ends (a request or task has its own copy)."""
    _CONTEXT.set(_with(values))


def _with(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """The current context with ``values`` added (None values skipped), as a new immutable mapping."""
    return MappingProxyType({**_CONTEXT.get(), **{k: v for k, v in values.items() if v is not None}})
