"""``runs.retrieve`` and ``runs.cancel`` for local runs.

Cancel follows Trigger.dev: ``200 {"id"}`` whether or not the run was still going. A run nobody has
started is CANCELED here, conditionally (a start that wins the race keeps it), with its session's
claim released in the same transaction; a run executing in this process is stopped through the
bridge (the task is cancelled with ``CANCEL_MESSAGE`` and records CANCELED itself); a run executing
elsewhere gets a cancel request in the database plus a ``cancel:<run>`` wake-up for its executor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bridge.base import Bridge
from core.ids import utcnow
from jobs.runtime import last_run, task_error
from jobs.wake import Wake, cancel_message
from realtime.access import AccessChecker, Caller
from realtime.retrieve import retrieve_body
from realtime.shape import public_id
from store import runs, sessions
from store.db import Database
from store.tables import TERMINAL_STATUSES

log = logging.getLogger("campaign_chat.realtime")

NOT_STARTED = ("canceled", "the run was canceled before it started")


class RunControl:
    def __init__(self, db: Database, bridge: Bridge, access: AccessChecker, wake: Wake) -> None:
        self._db = db
        self._bridge = bridge
        self._access = access
        self._wake = wake

    async def _load(self, run_id: str) -> Mapping[str, Any] | None:
        async with self._db.read() as conn:
            return await runs.get(conn, run_id)

    async def retrieve(self, caller: Caller, run_id: str) -> dict[str, Any]:
        run = self._access.check(caller, "read", await self._load(run_id))
        return retrieve_body(run, utcnow())

    async def cancel(self, caller: Caller, run_id: str) -> dict[str, Any]:
        run = self._access.check(caller, "write", await self._load(run_id))
        answer = {"id": public_id(run)}
        if run["status"] in TERMINAL_STATUSES:
            return answer
        if run["status"] == "PENDING" and await self._cancel_pending(run):
            await self._bridge.cancel(run["id"])  # drop a queued local task early; it would not start anyway
            await self._publish(run["id"])
            return answer
        if await self._bridge.cancel(run["id"]):
            return answer  # it ran here; run_guarded recorded CANCELED and released the claim
        async with self._db.write() as conn:
            requested = await runs.request_cancel(conn, run["id"], now=utcnow())
        if requested:
            await self._publish(cancel_message(run["id"]))
        return answer

    async def _cancel_pending(self, run: Mapping[str, Any]) -> bool:
        now = utcnow()
        async with self._db.write() as conn:
            if not await runs.cancel_pending(conn, run["id"], now=now, error=task_error(*NOT_STARTED)):
                return False
            await sessions.release(conn, session_id=run["session_id"], claim_run_id=run["id"], now=now,
                                   last_run=last_run(public_id(run), run["task"], "canceled", now, NOT_STARTED))
        return True

    async def _publish(self, message: str) -> None:
        try:
            await self._wake(message)
        except Exception:  # noqa: BLE001 - subscribers still see the change on their next poll
            log.warning("wake-up for %s was not delivered", message, exc_info=True)
