"""The lease reaper: frees sessions whose task stopped renewing its lease (a dead worker) and fails
the runs nobody will finish; also drops expired idempotency records and, when
``CAMPAIGN_CHAT_SESSION_RETENTION_DAYS`` is set, erases sessions idle for longer than that (and drops
daily spend counts older than a month). Every API
instance runs one; the work is idempotent, so several at once are harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.ids import utcnow
from core.settings import Settings
from ops import observe
from store import erase, idempotency, lifecycle, spend
from store.db import Database
from store.lifecycle import RunRef
from store.migrate import is_missing_schema
from store.wake import Wake

log = logging.getLogger("campaign_chat.reaper")

MAX_INTERVAL_SECONDS = 2.0
# Retention is measured in days: looking for idle sessions every few minutes is plenty, and keeps its
# query off the lease sweep's short tick.
RETENTION_SWEEP_SECONDS = 300.0
RETENTION_BATCH = 100  # sessions erased per transaction
SPEND_KEPT_DAYS = 31  # daily spend counts (store.spend) older than this are dropped


class Reaper:
    def __init__(self, db: Database, settings: Settings, wake: Wake | None = None,
                 forget: Callable[[list[str]], Awaitable[None]] | None = None) -> None:
        self._db = db
        self._wake = wake
        self._forget = forget  # the bridge's: what the backend keeps of erased runs
        # A run still active this long after it was created is covered by no lease any more.
        self._stale_after = timedelta(seconds=settings.queue_lease_seconds + settings.job_timeout_seconds + 60)
        # Sweep often enough that a dead executor's session reads as free soon after its lease ends
        # (the claim itself is takeable at once): each sweep is two indexed statements.
        self.interval = max(0.5, min(MAX_INTERVAL_SECONDS, settings.claim_lease_seconds / 4))
        self._retention = timedelta(days=settings.session_retention_days) if settings.session_retention_days else None
        self._next_purge = 0.0

    async def sweep(self) -> int:
        """One pass; the number of claims freed and runs failed."""
        now = utcnow()
        # One unit of work (one thread hop on SQLite): the write lock is never held across an await.
        reaped, crashed = await self._db.run(_sweep, now=now, stale_before=now - self._stale_after)
        for run in crashed:
            observe.lease_takeover(run.session_id, run.id)
            await self._publish(run.id)
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + RETENTION_SWEEP_SECONDS
            await self.housekeeping(now)
        return reaped

    async def housekeeping(self, now: datetime) -> None:
        """The slow part of the sweep: retention, and spend counts of days long gone."""
        await self._db.run(spend.purge_before, now.date() - timedelta(days=SPEND_KEPT_DAYS))
        purged = await self.purge_idle(now)
        if purged:
            log.info("retention: erased %d session(s) idle for more than %s", purged, self._retention)

    async def purge_idle(self, now: datetime) -> int:
        """Erase every session idle (not changed, no task) for longer than the retention; how many."""
        if self._retention is None:
            return 0
        purged = 0
        while True:
            cutoff = now - self._retention
            ids, erased = await self._db.run(_purge_batch, cutoff)
            purged += len(erased)
            if self._forget is not None and erased:
                await self._forget([run_id for gone in erased for run_id in gone.run_ids])
            for gone in erased:
                for run_id in gone.run_ids:
                    await self._publish(run_id)
            if len(ids) < RETENTION_BATCH:
                return purged

    async def _publish(self, run_id: str) -> None:
        if self._wake is not None:
            try:
                await self._wake(run_id)
            except Exception:  # noqa: BLE001 - subscribers still see it on their next poll
                pass

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                reaped = await self.sweep()
                if reaped:
                    log.warning("lease reaper freed %d expired claims", reaped)
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried on the next tick
                if is_missing_schema(exc):
                    # Not migrated yet: serve already said so (and /health/ready does); no traceback per tick.
                    log.debug("lease reaper: the database is not migrated")
                    continue
                log.exception("lease reaper failed")


def _purge_batch(conn: sa.Connection, cutoff: datetime) -> tuple[list[str], list[erase.Erased]]:
    """One transaction: up to a batch of sessions idle since ``cutoff``, erased (each re-checked)."""
    ids = erase.idle_sessions(conn, idle_since=cutoff, limit=RETENTION_BATCH)
    erased = [e for sid in ids if (e := erase.erase_session(conn, session_id=sid, idle_since=cutoff)) is not None]
    return ids, erased


def _sweep(conn: sa.Connection, *, now: datetime, stale_before: datetime) -> tuple[int, list[RunRef]]:
    reaped, crashed = lifecycle.reap_expired(conn, now=now, stale_before=stale_before)
    idempotency.purge_expired(conn, now=now)
    return reaped, crashed
