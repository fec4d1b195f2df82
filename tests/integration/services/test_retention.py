"""CAMPAIGN_CHAT_SESSION_RETENTION_DAYS: the reaper erases sessions idle for longer than that, with
their runs, events and idempotency records; sessions changed since, or held by a task, stay. 0 keeps
everything. Both engines."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from core.ids import new_run_id, utcnow
from core.settings import Settings
from services.reaper import Reaper
from core.usage import Usage
from store import runs, sessions, spend
from store.db import Database
from store.tables import idempotency_keys, run_events, runs as runs_t, sessions as sessions_t


async def _session(db: Database, *, idle_days: float, busy: bool = False) -> tuple[str, str]:
    """A session last changed ``idle_days`` ago with one finished run, its events and an idempotency record."""
    then = utcnow() - timedelta(days=idle_days)
    run_id = new_run_id()
    async with db.write() as conn:
        row = await conn.run_sync(sessions.create, user_id="retention-user", campaign_id="c", node_id="n", title=None, now=then)
        await conn.run_sync(runs.insert, run_id=run_id, session_id=row.id, user_id="retention-user", task="framework-chat-turn",
                          backend="inline", payload={"input": {"message": "private"}}, tags=[], now=then)
        await conn.run_sync(runs.append_events, run_id=run_id, first_seq=1, events=[{"type": "phase", "phase": "done"}], now=then)
        await conn.execute(sa.insert(idempotency_keys).values(
            user_id="retention-user", key=f"k-{run_id}", request_hash="h", response={"runId": run_id, "tokenClaims": {}},
            created_at=then, expires_at=utcnow() + timedelta(days=1)))
        if busy:  # a task holds it (its lease is still running)
            await conn.execute(sa.update(sessions_t).where(sessions_t.c.id == row.id).values(
                task_status="chat_processing", claim_run_id=run_id, lease_expires_at=utcnow() + timedelta(minutes=5)))
    return row.id, run_id


async def _left(db: Database, session_id: str, run_id: str) -> dict[str, int]:
    async with db.read() as conn:
        async def count(table: Any, *where: Any) -> int:
            return (await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))).scalar_one()

        return {"session": await count(sessions_t, sessions_t.c.id == session_id),
                "runs": await count(runs_t, runs_t.c.session_id == session_id),
                "events": await count(run_events, run_events.c.run_id == run_id),
                "idempotency": await count(idempotency_keys, idempotency_keys.c.key == f"k-{run_id}")}


ALL = {"session": 1, "runs": 1, "events": 1, "idempotency": 1}
NONE = {"session": 0, "runs": 0, "events": 0, "idempotency": 0}


async def test_sessions_idle_past_the_retention_are_erased_whole_and_the_rest_kept(db: Database,
                                                                                     settings: Settings) -> None:
    old = await _session(db, idle_days=31)
    just_inside = await _session(db, idle_days=29.9)
    busy_old = await _session(db, idle_days=40, busy=True)

    reaper = Reaper(db, replace(settings, session_retention_days=30))
    assert await reaper.purge_idle(utcnow()) >= 1

    assert await _left(db, *old) == NONE
    assert await _left(db, *just_inside) == ALL
    assert await _left(db, *busy_old) == ALL  # a task holds it: never erased under a running turn


async def test_the_reapers_sweep_runs_the_purge_and_zero_keeps_everything(db: Database, settings: Settings) -> None:
    old = await _session(db, idle_days=400)
    keeping = Reaper(db, replace(settings, session_retention_days=0))
    await keeping.sweep()
    assert await keeping.purge_idle(utcnow()) == 0
    assert await _left(db, *old) == ALL

    await Reaper(db, replace(settings, session_retention_days=365)).sweep()
    assert await _left(db, *old) == NONE


def test_the_setting_is_read_and_checked() -> None:
    assert Settings.from_env({"CAMPAIGN_CHAT_SESSION_RETENTION_DAYS": "90"}).session_retention_days == 90
    assert Settings().session_retention_days == 0


async def test_housekeeping_drops_spend_counts_older_than_a_month(db: Database, settings: Settings) -> None:
    today = utcnow().date()
    async with db.write() as conn:
        for days in (0, 31, 32):
            await conn.run_sync(spend.add, user_id="spend-user", day=today - timedelta(days=days), usage=Usage(input_tokens=1))
    await Reaper(db, settings).housekeeping(utcnow())
    async with db.read() as conn:
        kept = [await conn.run_sync(spend.tokens_on, user_id="spend-user", day=today - timedelta(days=d)) for d in (0, 31, 32)]
    assert kept == [1, 1, 0]
