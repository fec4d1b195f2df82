"""The list cursor: where the previous page ended, as an opaque token.

A page is ordered by ``(created_at, id)``, a total order that inserts cannot reshuffle, so a cursor
names the last row served and the next page starts strictly after it. The token is base64url (no
padding) of ``v1|<created_at, ISO 8601 UTC with microseconds>|<session id>``; clients must not build
or read it. Anything that does not decode to exactly that is refused (400, ``field: cursor``).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

from core.errors import BadRequest
from core.payloads import UUID_RE

VERSION = "v1"
MAX_CURSOR_CHARS = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,%d}" % MAX_CURSOR_CHARS)
_ID = re.compile(UUID_RE)

Position = tuple[datetime, str]


def encode(created_at: datetime, session_id: str) -> str:
    text = f"{VERSION}|{created_at.astimezone(UTC).isoformat(timespec='microseconds')}|{session_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(token: str) -> Position:
    """The position a cursor names; BadRequest for anything this service did not issue."""
    if not _TOKEN.fullmatch(token):
        raise _invalid()
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        version, stamp, session_id = text.split("|")
        created_at = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    if version != VERSION or created_at.tzinfo is None or not _ID.match(session_id):
        raise _invalid()
    try:
        return created_at.astimezone(UTC), session_id
    except OverflowError:  # "0001-01-01T00:00:00+05:00": a valid stamp with no UTC time (a 500 once)
        raise _invalid() from None


def _invalid() -> BadRequest:
    return BadRequest("Invalid value for `cursor`: pass back the `next_cursor` of the previous page unchanged",
                      field="cursor")
