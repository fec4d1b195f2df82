"""In-process backend: the task runs on the API's own event loop. The zero-setup default."""

from __future__ import annotations

import asyncio
import logging

from bridge.base import Dispatched
from bridge.tokens import mint, run_scopes
from core.errors import DispatchError
from core.payloads import TaskPayload
from jobs.entry import execute
from jobs.reporter import RunReporter, Wake
from jobs.runtime import CANCEL_MESSAGE, JobDeps

log = logging.getLogger("campaign_chat.bridge.inline")


class InlineBridge:
    name = "inline"

    def __init__(self, deps: JobDeps, *, token_secret: str, env_id: str, token_ttl: int, wake: Wake | None = None) -> None:
        self._deps = deps
        self._secret = token_secret
        self._env_id = env_id
        self._ttl = token_ttl
        self._wake = wake
        self._tasks: dict[str, asyncio.Task[bool]] = {}
        self._closing = False

    async def start(self) -> None:
        return None

    async def dispatch(self, payload: TaskPayload) -> Dispatched:
        if self._closing:
            raise DispatchError("the service is shutting down")
        reporter = RunReporter(self._deps.db, payload.run_id, wake=self._wake)
        task = asyncio.create_task(execute(self._deps, payload, reporter), name=f"run:{payload.run_id}")
        self._tasks[payload.run_id] = task
        task.add_done_callback(lambda t, rid=payload.run_id: self._finished(rid, t))
        token = mint(self._secret, sub=self._env_id, scopes=run_scopes(payload.run_id), ttl_seconds=self._ttl)
        return Dispatched(run_id=payload.run_id, public_access_token=token)

    def _finished(self, run_id: str, task: asyncio.Task[bool]) -> None:
        self._tasks.pop(run_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s crashed", run_id, exc_info=task.exception())

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def cancel(self, run_id: str) -> bool:
        task = self._tasks.get(run_id)
        if task is None or task.done():
            return False
        task.cancel(CANCEL_MESSAGE)
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
