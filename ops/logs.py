"""Structured logging: one JSON line per event on stdout, or a console format for humans.

Everything goes through structlog, including the stdlib ``logging`` calls spread across the code
(``logging.getLogger("campaign_chat…")``) and library loggers (uvicorn, arq), so every line carries
the context bound with :func:`bound` — ``request_id``, ``session_id``, ``run_id``, ``task``,
``backend`` — wherever it is known. Context lives in contextvars, so a task started from a request
(the inline backend) inherits it, and a worker binds it from the payload.

Secrets are never logged on purpose; :func:`_redact` is the safety net that masks anything shaped
like an API key, a bearer credential or a JWT that slips into a message anyway.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog

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
          "sqlalchemy": logging.WARNING, "uvicorn.access": logging.WARNING}


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

    Built directly from the record. structlog's ``ProcessorFormatter`` wrote the same fields but copied
    the record and ran a chain of processors and ``json.dumps``: ~22 us a line, one line per request
    (the access line), so a few per cent of a poll's or a dispatch's CPU. Records that come from a
    structlog logger (:func:`get_logger`) still go through that chain (``fallback``)."""

    def __init__(self, fallback: logging.Formatter) -> None:
        super().__init__()
        self._fallback = fallback

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):  # a structlog event dict (wrap_for_formatter)
            return self._fallback.format(record)
        line: dict[str, Any] = {"event": record.getMessage(), **structlog.contextvars.get_contextvars(),
                                "level": record.levelname.lower(), "logger": record.name,
                                "timestamp": _utc_iso(record.created)}
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        _redact(None, "", line)
        return _encoder.encode(line).decode()


def _utc_iso(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")


def _console(settings: Settings, stream: Any) -> bool:
    fmt = settings.log_format
    if fmt == "auto":
        return bool(getattr(stream, "isatty", lambda: False)())
    return fmt == "console"


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Route structlog and stdlib logging to one stdout handler with the chosen format. Idempotent."""
    stream = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    console = _console(settings, stream)
    chain = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            structlog.dev.ConsoleRenderer(colors=False) if console else structlog.processors.JSONRenderer(),
        ],
    )
    formatter = chain if console else JsonLines(chain)
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


def get_logger(name: str) -> Any:
    """A structlog logger; keyword arguments become JSON fields."""
    return structlog.stdlib.get_logger(name)


@contextlib.contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind context fields (None values skipped) for the duration of the block, then restore."""
    clean = {k: v for k, v in values.items() if v is not None}
    tokens = structlog.contextvars.bind_contextvars(**clean)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def current(name: str) -> Any:
    """A context field bound for the current request or task, or None."""
    return structlog.contextvars.get_contextvars().get(name)


def bind(**values: Any) -> None:
    """Bind context fields until the current context ends (a request or task has its own copy)."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})
