"""Let a run executing outside the API (an ARQ worker) be cancelled by request.

The API records a cancel request on the run (``runs.cancel_requested_at``) and publishes
``cancel:<run id>`` on the wake-up channel. :func:`run_cancellable` runs a job and watches for that
request; when it appears, the job's task is cancelled with ``CANCEL_MESSAGE``, so ``run_guarded``
records CANCELED, the session's ``last_run`` says canceled and the claim is released.

Worker usage (``jobs.entry.execute`` stays the one entry point)::

    ok = await run_cancellable(deps.db, payload.run_id, execute(deps, payload, reporter))
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from jobs.runtime import CANCEL_MESSAGE
from store import runs
from store.db import Database

T = TypeVar("T")

POLL_SECONDS = 0.5


async def cancel_requested(db: Database, run_id: str) -> bool:
    async with db.read() as conn:
        return await runs.cancel_requested(conn, run_id)


async def _watch(db: Database, run_id: str, task: asyncio.Task[Any], poll_seconds: float) -> None:
    while not task.done():
        try:
            if await cancel_requested(db, run_id):
                task.cancel(CANCEL_MESSAGE)
                return
        except Exception:  # noqa: BLE001 - a failed check is retried; the job must not fail because of it
            pass
        await asyncio.sleep(poll_seconds)


async def run_cancellable(db: Database, run_id: str, job: Coroutine[Any, Any, T], *,
                          poll_seconds: float = POLL_SECONDS) -> T | None:
    """Run ``job``; None when a cancel request stopped it. Cancelling the caller still cancels the job."""
    task: asyncio.Task[T] = asyncio.ensure_future(job)
    watcher = asyncio.create_task(_watch(db, run_id, task, poll_seconds), name=f"cancel-watch:{run_id}")
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError as exc:
        if task.cancelled() and not (asyncio.current_task() or task).cancelling():
            return None  # stopped by the request; the run is already recorded CANCELED
        if not task.done():
            task.cancel(*exc.args)  # the worker itself is being stopped: pass its reason on
            await asyncio.gather(task, return_exceptions=True)
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
