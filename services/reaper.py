"""The lease reaper: frees sessions whose task stopped renewing its lease (a dead worker) and fails
the runs nobody will finish; also drops expired idempotency records. Every API instance runs one;
the work is idempotent, so several at once are harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from core.ids import utcnow
from core.settings import Settings
from ops import observe
from store import idempotency, lifecycle
from store.db import Database
from store.wake import Wake

log = logging.getLogger("campaign_chat.reaper")


class Reaper:
    def __init__(self, db: Database, settings: Settings, wake: Wake | None = None) -> None:
        self._db = db
        self._wake = wake
        # A run still active this long after it was created is covered by no lease any more.
        self._stale_after = timedelta(seconds=settings.queue_lease_seconds + settings.job_timeout_seconds + 60)
        # Sweep often enough that a dead executor's session is free within about one lease.
        self.interval = max(0.5, min(30.0, settings.claim_lease_seconds / 4))

    async def sweep(self) -> int:
        """One pass; the number of claims freed and runs failed."""
        now = utcnow()
        async with self._db.write() as conn:
            reaped, crashed = await conn.run_sync(lifecycle.reap_expired, now=now, stale_before=now - self._stale_after)
            await idempotency.purge_expired(conn, now=now)
        for run in crashed:
            observe.lease_takeover(run.session_id, run.id)
            if self._wake is not None:
                try:
                    await self._wake(run.id)
                except Exception:  # noqa: BLE001 - subscribers still see it on their next poll
                    pass
        return reaped

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                reaped = await self.sweep()
                if reaped:
                    log.warning("lease reaper freed %d expired claims", reaped)
            except Exception:  # noqa: BLE001 - a failed sweep is retried on the next tick
                log.exception("lease reaper failed")
