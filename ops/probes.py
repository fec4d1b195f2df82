"""Dependency probes for readiness: each dependency in use, pinged with a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

PROBE_TIMEOUT_SECONDS = 2.0

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
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the type names it
        return f"error: {type(exc).__name__}"
    return "ok"
