"""The claim and the run's life, at the repository level, on both engines.

The claim is ``store.sessions.claim_and_record`` (what every dispatch calls): one winner among many,
the run row inserted only with the winning claim; ending a run is ``store.lifecycle.end_run``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest

from core.ids import new_run_id, utcnow
from core.status import RunStatus
from store import lifecycle, runs, sessions
from store.db import Database
from store.migrate import upgrade
from store.rows import RunFailure


async def _session(db: Database, user_id: str = "u1") -> str:
    row = await db.run(sessions.create, user_id=user_id, campaign_id="c", node_id="n", title=None, now=utcnow())
    return row.id


async def _claim(db: Database, session_id: str, *, user_id: str = "u1", lease: float = 60, skeleton: bool = False,
                 run_id: str | None = None) -> str | None:
    run_id = run_id or new_run_id()
    now = utcnow()
    claim = sessions.ClaimRequest(session_id=session_id, user_id=user_id, task_status="chat_processing",
                                  run_id=run_id, now=now, lease_until=now + timedelta(seconds=lease),
                                  require_skeleton=skeleton)
    values = runs.new_run_values(run_id=run_id, session_id=session_id, user_id=user_id, task="framework-chat-turn",
                                 backend="inline", payload={}, tags=[], now=now)
    outcome = await sessions.claim_and_record(db, claim, values)
    return run_id if outcome.won else None


async def _run_count(db: Database, session_id: str) -> int:
    return len(await db.run_read(runs.list_runs, session_id=session_id))


async def test_exactly_one_of_many_concurrent_claims_wins_and_records_one_run(db: Database) -> None:
    session_id = await _session(db)
    results = await asyncio.gather(*(_claim(db, session_id) for _ in range(50)))
    winners = [r for r in results if r]
    assert len(winners) == 1
    state = await db.run_read(sessions.claim_state, session_id=session_id, user_id="u1")
    assert state is not None and state.task_status == "chat_processing" and state.run_id == winners[0]
    assert await _run_count(db, session_id) == 1


async def test_a_claim_is_refused_for_another_users_session(db: Database) -> None:
    session_id = await _session(db, user_id="owner")
    assert await _claim(db, session_id, user_id="intruder") is None
    assert await _run_count(db, session_id) == 0


async def test_only_the_holder_ends_the_claim(db: Database) -> None:
    session_id = await _session(db)
    holder = await _claim(db, session_id)
    assert holder
    stranger = lifecycle.RunRef(new_run_id(), "x", session_id, "framework-chat-turn")
    ended = await db.run(lifecycle.end_run, stranger, RunStatus.CANCELED, now=utcnow(), force_release=True)
    assert not ended.held
    ended = await db.run(lifecycle.end_run, lifecycle.RunRef(holder, holder, session_id, "framework-chat-turn"),
                         RunStatus.CANCELED, now=utcnow(), failure=RunFailure("canceled", "c"))
    assert ended.held and ended.finished
    assert await _claim(db, session_id)


async def test_an_expired_lease_is_free_and_the_old_holder_cannot_write(db: Database) -> None:
    session_id = await _session(db)
    dead = await _claim(db, session_id, lease=-1)  # a worker that died: its lease is already over
    assert dead
    taker = await _claim(db, session_id)
    assert taker and taker != dead
    late = await db.run(sessions.update_if_holding, session_id=session_id, claim_run_id=dead,
                        values={"draft_body": "late write"})
    held, _ = await db.run(lifecycle.renew_lease, lifecycle.RunRef(dead, dead, session_id, "t"),
                           until=utcnow() + timedelta(seconds=60))
    assert not late and not held
    assert (await db.run_read(sessions.get, user_id="u1", session_id=session_id)).draft_body is None


async def test_the_heartbeat_keeps_a_live_claim_and_the_reaper_frees_a_dead_one(db: Database) -> None:
    session_id = await _session(db)
    holder = await _claim(db, session_id, lease=1)
    assert holder
    ref = lifecycle.RunRef(holder, holder, session_id, "framework-chat-turn")
    held, requested = await db.run(lifecycle.renew_lease, ref, until=utcnow() + timedelta(seconds=60))
    assert held and not requested
    _, crashed = await db.run(lifecycle.reap_expired, now=utcnow() + timedelta(seconds=30),
                              stale_before=utcnow() - timedelta(days=1))
    # Renewed: still held 30 s later. (Not "nothing reaped": the PostgreSQL database is shared by the
    # test run, and claims other tests left behind may end within those 30 s.)
    assert holder not in [r.id for r in crashed]
    assert (await db.run_read(sessions.get, user_id="u1", session_id=session_id)).task_status is not None
    reaped, crashed = await db.run(lifecycle.reap_expired, now=utcnow() + timedelta(seconds=61),
                                   stale_before=utcnow() - timedelta(days=1))
    assert reaped >= 1 and holder in [r.id for r in crashed]  # the PostgreSQL database is shared by the run
    run = await db.run_read(runs.get, holder)
    session = await db.run_read(sessions.get, user_id="u1", session_id=session_id)
    assert run.status is RunStatus.CRASHED and run.failure.code == "lease_expired"
    assert session.task_status is None and session.last_run.error.code == "lease_expired"


async def test_generate_examples_claim_needs_a_skeleton(db: Database) -> None:
    session_id = await _session(db)
    assert await _claim(db, session_id, skeleton=True) is None
    await db.run(sessions.update_fields, user_id="u1", session_id=session_id, values={"skeleton": {"hook": "h"}})
    assert await _claim(db, session_id, skeleton=True)


@pytest.mark.parametrize("locked", ["session", "run"])
async def test_a_row_locked_by_a_stalled_transaction_does_not_hold_up_the_sweep(pg_url: str, locked: str) -> None:
    """A worker frozen inside a transaction (SIGSTOP, a paused VM) keeps its row locks until PostgreSQL ends
    that transaction (``idle_in_transaction_session_timeout``, one lease). The sweep once waited on them
    with every other expired claim in the same transaction: one stuck session delayed all of them by up to
    a lease. Now the stuck one is skipped, the others freed at once, and it goes on a later sweep."""
    db = Database(pg_url)
    await upgrade(db)
    stuck_user, other_user = f"stuck-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    stuck_session, other_session = await _session(db, user_id=stuck_user), await _session(db, user_id=other_user)
    stuck = await _claim(db, stuck_session, user_id=stuck_user, lease=-1)
    other = await _claim(db, other_session, user_id=other_user, lease=-1)
    assert stuck and other
    holder = await db.engine.connect()  # the stalled writer: a row lock taken, then nothing
    try:
        await holder.begin()
        if locked == "session":
            await holder.exec_driver_sql("SELECT 1 FROM chat_sessions WHERE id = $1 FOR UPDATE", (stuck_session,))
        else:  # stalled after its run row was written, before the session's
            await holder.exec_driver_sql("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", (stuck,))
        began = time.monotonic()
        async with asyncio.timeout(10):
            _, crashed = await db.run(lifecycle.reap_expired, now=utcnow(), stale_before=utcnow() - timedelta(days=1))
        assert time.monotonic() - began < 3
        assert other in [r.id for r in crashed]
        assert (await db.run_read(sessions.get, user_id=other_user, session_id=other_session)).task_status is None
    finally:
        await holder.close()  # the stalled transaction ends (rolled back)
    _, crashed = await db.run(lifecycle.reap_expired, now=utcnow(), stale_before=utcnow() - timedelta(days=1))
    session = await db.run_read(sessions.get, user_id=stuck_user, session_id=stuck_session)
    assert session.task_status is None and (await db.run_read(runs.get, stuck)).status is RunStatus.CRASHED
    await db.dispose()


@pytest.mark.parametrize("held", ["expired claim", "free"])
async def test_a_claim_on_a_row_a_stalled_transaction_holds_is_refused_at_once(pg_url: str, held: str) -> None:
    """The claim waited on the row lock as long as the stalled transaction lived (up to a lease), so a
    ``POST …/turn`` hung that long. Now it waits at most ``ROW_LOCK_WAIT_MS`` and loses, naming the
    holder it can see (the session is being written by someone); once the lock is gone it wins again."""
    db = Database(pg_url)
    await upgrade(db)
    user = f"held-{uuid.uuid4().hex[:8]}"
    session_id = await _session(db, user_id=user)
    earlier = await _claim(db, session_id, user_id=user, lease=-1) if held == "expired claim" else None
    holder = await db.engine.connect()
    try:
        await holder.begin()
        await holder.exec_driver_sql("SELECT 1 FROM chat_sessions WHERE id = $1 FOR UPDATE", (session_id,))
        began = time.monotonic()
        async with asyncio.timeout(10):
            assert await _claim(db, session_id, user_id=user) is None
        assert time.monotonic() - began < sessions.ROW_LOCK_WAIT_MS / 1000 + 1.5
        state = await db.run_read(sessions.claim_state, session_id=session_id, user_id=user)
        assert state is not None and state.run_id == earlier
        assert await _run_count(db, session_id) == (1 if earlier else 0)  # nothing of the lost claim stored
    finally:
        await holder.close()
    assert await _claim(db, session_id, user_id=user)
    await db.dispose()
