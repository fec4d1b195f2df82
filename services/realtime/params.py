"""Strict parsing of what a realtime client sends: Electric shape parameters, ``Last-Event-ID``, path ids.

Every value is checked against the exact form we issue (or Trigger.dev/Electric define) before it
reaches a query or a wait, and a malformed one is 400 at once. Python's ``int()`` is never given raw
client text: it accepts underscores (``1_000``), surrounding spaces and non-ASCII digits (``١``), and
a number past the column's range would reach the database (PostgreSQL refuses it mid-stream).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import RealtimeError

INT4_MAX = 2_147_483_647  # run_events.seq and runs.version are 32-bit on PostgreSQL

_DIGITS = r"[0-9]{1,10}"  # explicit ASCII class: re's \d would admit other scripts' digits
_OFFSET = re.compile(rf"([0-9]{{1,16}})_({_DIGITS})")  # <updatedAt ms>_<version>, what electric-offset carries
_EVENT_ID = re.compile(rf"(?:[0-9]{{1,16}}-)?({_DIGITS})")  # <ms>-<seq> (what we send as id:), or a bare seq
# Opaque tokens we issue (handle run-<id>, cursor <ms>) or clients derive from them (<handle>-next).
_TOKEN = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")
_PATH_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_SNAPSHOT_OFFSETS = frozenset({"-1", "now"})


def bad_parameter(param: str, message: str) -> RealtimeError:
    return RealtimeError(400, {"error": message, "code": "invalid_parameter", "param": param})


def _bounded(text: str, param: str) -> int:
    value = int(text)  # text matched [0-9]{1,10}: ASCII digits only
    if value > INT4_MAX:
        raise bad_parameter(param, f"Invalid {param}: {value} is out of range (at most {INT4_MAX})")
    return value


@dataclass(frozen=True, slots=True)
class ShapeParams:
    offset: str | None  # as sent, when it names a position (echoed back on an unchanged live poll)
    version: int | None  # the run version the offset names; None: a snapshot is wanted
    handle: str | None
    live: bool


def shape_params(offset: str | None, handle: str | None, live: str | None, cursor: str | None,
                 expired_handle: str | None = None) -> ShapeParams:
    """Electric's shape query (``offset``, ``handle``, ``live``, ``cursor``, ``expired_handle``)."""
    for name, value in (("handle", handle), ("expired_handle", expired_handle)):
        if value is not None and not _TOKEN.fullmatch(value):
            raise bad_parameter(name, f"Invalid {name}: expected the electric-handle this server sent")
    if cursor and not _TOKEN.fullmatch(cursor):  # the first live poll sends it empty
        raise bad_parameter("cursor", "Invalid cursor: expected the electric-cursor this server sent")
    if live not in (None, "true", "false"):
        raise bad_parameter("live", "Invalid live: expected true or false")
    version = None
    if offset is not None and offset not in _SNAPSHOT_OFFSETS:
        match = _OFFSET.fullmatch(offset)
        if match is None:
            raise bad_parameter("offset", "Invalid offset: expected -1 or the electric-offset this server sent")
        version = _bounded(match.group(2), "offset")
    return ShapeParams(offset=offset if version is not None else None, version=version, handle=handle,
                       live=live == "true")


def last_event_seq(value: str | None) -> int:
    """``Last-Event-ID`` (``<ms>-<seq>``, what we send as ``id:``) → seq; absent → 0 (from the start)."""
    if value is None or value == "":
        return 0
    match = _EVENT_ID.fullmatch(value)
    if match is None:
        raise bad_parameter("Last-Event-ID", "Invalid Last-Event-ID: expected <ms>-<seq> as this server sends it")
    return _bounded(match.group(1), "Last-Event-ID")


def run_id(value: str) -> str:
    """A run id from the path: ours and Trigger.dev's are ASCII letters, digits, ``_`` and ``-``."""
    if not _PATH_ID.fullmatch(value):
        raise bad_parameter("runId", "Invalid run id")
    return value


def stream_key(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise bad_parameter("streamKey", "Invalid stream key")
    return value
