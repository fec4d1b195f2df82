"""``runs.retrieve`` and ``runs.cancel`` for local runs.

Cancel follows Trigger.dev: ``200 {"id"}`` whether or not the run was still going. A run nobody has
started is CANCELED here, conditionally (a start that wins the race keeps it), with its session's
claim released in the same transaction; a run executing in this process is stopped through the
bridge (it records CANCELED itself); a run executing elsewhere gets a cancel request in the database
(its heartbeat reads it within a third of the lease) plus a ``cancel:<run>`` wake-up for its executor.

On PostgreSQL a frozen writer (a worker stopped inside its transaction) can hold the run's or the
session's row for up to a lease. Cancel's writes wait for a row lock at most ``ROW_LOCK_WAIT_MS``, then
answer ``409 run_busy`` with ``x-should-retry: true``: the SDK retries a 409 (its "lock timeout" case), and
nothing of the refused attempt is kept.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge.base import Bridge
from core.errors import RealtimeError
from core.ids import utcnow
from core.status import RunStatus
from services.realtime.access import AccessChecker, Caller
from services.realtime.retrieve import retrieve_body
from store import lifecycle, runs
from store.db import Database, RowLockWaitEnded, with_bounded_lock_wait
from store.rows import RunRow
from store.wake import Wake, cancel_message

log = logging.getLogger("campaign_chat.realtime")


class RunControl:
    def __init__(self, db: Database, bridge: Bridge, access: AccessChecker, wake: Wake) -> None:
        self._db = db
        self._bridge = bridge
        self._access = access
        self._wake = wake

    async def _load(self, run_id: str) -> RunRow | None:
        return await self._db.run_read(runs.get, run_id)

    async def retrieve(self, caller: Caller, run_id: str) -> dict[str, Any]:
        run = self._access.check(caller, "read", await self._load(run_id))
        return retrieve_body(run, utcnow())

    async def cancel(self, caller: Caller, run_id: str) -> dict[str, Any]:
        run = self._access.check(caller, "write", await self._load(run_id))
        answer = {"id": run.public_id}
        if run.status.terminal:
            return answer
        if run.status is RunStatus.PENDING and await self._cancel_pending(run):
            await self._bridge.cancel(run.id)  # drop a queued local task early; it would not start anyway
            await self._publish(run.id)
            return answer
        if await self._bridge.cancel(run.id):
            return answer  # it ran here and recorded CANCELED itself
        requested = await self._write(runs.request_cancel, run.id, now=utcnow())
        if requested:
            await self._publish(cancel_message(run.id))
        return answer

    async def _cancel_pending(self, run: RunRow) -> bool:
        ended = await self._write(lifecycle.end_unstarted, run, RunStatus.CANCELED, lifecycle.NOT_STARTED, now=utcnow())
        return ended.finished

    async def _write(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._db.run(with_bounded_lock_wait, work, *args, **kwargs)
        except RowLockWaitEnded:
            raise RealtimeError(409, {"error": "The run is being written by another transaction; retry shortly",
                                      "code": "run_busy"},
                                {"Retry-After": "1", "x-should-retry": "true"}) from None

    async def _publish(self, message: str) -> None:
        try:
            await self._wake(message)
        except Exception:  # noqa: BLE001 - subscribers still see the change on their next poll
            log.warning("wake-up for %s was not delivered", message, exc_info=True)
