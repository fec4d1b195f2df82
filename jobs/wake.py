"""Wake-ups: how a process that wrote a run's progress tells realtime subscribers to look.

A job's reporter calls ``wake(run_id)`` after each committed write. Subscribers always read the
database (the source of truth); the wake-up only saves them from polling. ``build_wake`` returns
this process's publisher (or None: subscribers then fall back to a slow poll) and a closer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.settings import Settings

Wake = Callable[[str], Awaitable[None]]
Closer = Callable[[], Awaitable[None]]


async def _noop() -> None:
    return None


async def build_wake(settings: Settings) -> tuple[Wake | None, Closer]:
    """The publisher a worker process uses. The realtime layer decides the channel."""
    return None, _noop
