"""The subscriber side of wake-ups: long-polls and streams wait here instead of polling the database.

:class:`WakeHub` fans a wake-up for a run out to everyone watching it. Messages arrive from this
process (the inline bridge's reporters) and from a listener on the deployment's channel (see
``jobs.wake``). A watcher is registered *before* its first database read, so a write that commits
between the read and the wait still wakes it. When no cross-process channel is up, waits are capped
at a slow poll interval, so subscribers still see every change, only later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jobs.wake import CANCEL_PREFIX

log = logging.getLogger("campaign_chat.realtime")

SAFETY_POLL_SECONDS = 5.0  # a lost message costs at most this much delay
FALLBACK_POLL_SECONDS = 1.0  # no channel from other processes: the slow poll

CancelHandler = Callable[[str], Awaitable[Any]]


class Watcher:
    def __init__(self, hub: WakeHub) -> None:
        self._hub = hub
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken; False after ``timeout`` (capped by the hub's poll interval)."""
        try:
            await asyncio.wait_for(self._event.wait(), min(timeout, self._hub.poll_seconds))
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()


class WakeHub:
    def __init__(self, *, remote: bool) -> None:
        self._watchers: dict[str, set[Watcher]] = {}
        self._cancel_handlers: list[CancelHandler] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.remote = remote  # a cross-process channel is configured
        self.connected = not remote  # …and its listener is currently up

    @property
    def poll_seconds(self) -> float:
        return SAFETY_POLL_SECONDS if self.remote and self.connected else FALLBACK_POLL_SECONDS

    @contextmanager
    def watch(self, run_id: str) -> Iterator[Watcher]:
        watcher = Watcher(self)
        self._watchers.setdefault(run_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            group = self._watchers.get(run_id)
            if group is not None:
                group.discard(watcher)
                if not group:
                    del self._watchers[run_id]

    def on_cancel(self, handler: CancelHandler) -> None:
        """Call ``handler(run_id)`` for every cancel request (the API's inline bridge stops its task)."""
        self._cancel_handlers.append(handler)

    def deliver(self, message: str) -> None:
        run_id = message.removeprefix(CANCEL_PREFIX)
        if message.startswith(CANCEL_PREFIX):
            for handler in self._cancel_handlers:
                task = asyncio.get_running_loop().create_task(handler(run_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        for watcher in self._watchers.get(run_id, ()):
            watcher.notify()

    @property
    def watching(self) -> int:
        return sum(len(group) for group in self._watchers.values())
