"""Dependency probes for readiness: each dependency in use, pinged with a timeout.

A database without this release's schema is not ready either: its check says ``error: not migrated: …``
and what to run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from core.errors import NotMigrated

PROBE_TIMEOUT_SECONDS = 2.0
NOT_MIGRATED = "error: not migrated"  # how a check result starts when the schema is the problem

Ping = Callable[[], Awaitable[Any]]


async def check(pings: dict[str, Ping]) -> dict[str, str]:
    """``{"database": "ok"|"error: …", "redis": …}`` for every named ping."""
    return {name: await _probe(ping) for name, ping in pings.items()}


async def _probe(ping: Ping) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await ping()
    except TimeoutError:
        return "error: timed out"
    except NotMigrated as exc:
        return f"error: {exc}"  # says what to run
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the type names it
        return f"error: {type(exc).__name__}"
    return "ok"
