"""In-process backend: the task runs on the API's own event loop (tests, and setups that want one process).

A task stopped through :meth:`cancel` records CANCELED; at :meth:`close` (shutdown) running tasks
record INTERRUPTED, and close returns once every one of them has written its outcome.
"""

from __future__ import annotations

import asyncio
import logging

from bridge.base import Dispatched
from bridge.tokens import TokenSigner
from core.errors import DispatchError
from core.payloads import TaskPayload
from jobs.execute import execute
from jobs.guard import JobDeps, RunHandle, StopReason

log = logging.getLogger("campaign_chat.bridge.inline")


class InlineBridge:
    name = "inline"

    def __init__(self, deps: JobDeps, *, signer: TokenSigner) -> None:
        self._deps = deps
        self._signer = signer
        self._running: dict[str, tuple[asyncio.Task[bool], RunHandle]] = {}
        self._closing = False

    async def start(self) -> None:
        return None

    async def dispatch(self, payload: TaskPayload) -> Dispatched:
        if self._closing:
            raise DispatchError("the service is shutting down")
        handle = RunHandle()
        task = asyncio.create_task(execute(self._deps, payload, handle=handle), name=f"run:{payload.run_id}")
        self._running[payload.run_id] = (task, handle)
        task.add_done_callback(lambda t, rid=payload.run_id: self._finished(rid, t))
        return Dispatched(run_id=payload.run_id, public_access_token=self._signer.for_run(payload.run_id))

    def _finished(self, run_id: str, task: asyncio.Task[bool]) -> None:
        self._running.pop(run_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s crashed", run_id, exc_info=task.exception())

    @property
    def running(self) -> int:
        return len(self._running)

    async def cancel(self, run_id: str) -> bool:
        entry = self._running.get(run_id)
        if entry is None or not entry[1].stop(StopReason.CANCELED):
            return False
        await asyncio.gather(entry[0], return_exceptions=True)
        return True

    async def forget(self, run_ids: list[str]) -> None:
        return None  # runs live in the database only

    async def close(self) -> None:
        self._closing = True
        entries = list(self._running.values())
        for _, handle in entries:
            handle.stop(StopReason.INTERRUPTED)
        await asyncio.gather(*(task for task, _ in entries), return_exceptions=True)
