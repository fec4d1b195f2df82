"""Identifiers and the clock, kept in one place so tests can reason about them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id() -> str:
    """A Trigger.dev-style friendly id: ``run_`` and 24 lowercase base-36 characters (~124 bits)."""
    return "run_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)
