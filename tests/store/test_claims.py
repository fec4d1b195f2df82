"""The claim: one conditional write, one winner, a lease that frees sessions of crashed workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.ids import new_run_id, utcnow
from store import sessions
from store.db import Database


async def _session(db: Database, user_id: str = "u1") -> str:
    async with db.write() as conn:
        row = await sessions.create(conn, user_id=user_id, campaign_id="c", node_id="n", title=None, now=utcnow())
    return row["id"]


async def _claim(db: Database, session_id: str, *, user_id: str = "u1", lease: float = 60, skeleton: bool = False,
                 run_id: str | None = None) -> str | None:
    run_id = run_id or new_run_id()
    now = utcnow()
    async with db.write() as conn:
        won = await sessions.claim(conn, session_id=session_id, user_id=user_id, task_status="chat_processing",
                                   run_id=run_id, now=now, lease_until=now + timedelta(seconds=lease),
                                   require_skeleton=skeleton)
    return run_id if won else None


async def test_exactly_one_of_many_concurrent_claims_wins(db: Database) -> None:
    session_id = await _session(db)
    results = await asyncio.gather(*(_claim(db, session_id) for _ in range(50)))
    winners = [r for r in results if r]
    assert len(winners) == 1
    async with db.read() as conn:
        state = await sessions.claim_state(conn, session_id=session_id, user_id="u1")
    assert state is not None and state.task_status == "chat_processing" and state.run_id == winners[0]


async def test_a_claim_is_refused_for_another_users_session(db: Database) -> None:
    session_id = await _session(db, user_id="owner")
    assert await _claim(db, session_id, user_id="intruder") is None


async def test_only_the_holder_releases(db: Database) -> None:
    session_id = await _session(db)
    holder = await _claim(db, session_id)
    assert holder
    async with db.write() as conn:
        assert not await sessions.release(conn, session_id=session_id, claim_run_id=new_run_id(), now=utcnow())
        assert await sessions.release(conn, session_id=session_id, claim_run_id=holder, now=utcnow())
    assert await _claim(db, session_id)


async def test_an_expired_lease_is_free_and_the_old_holder_cannot_write(db: Database) -> None:
    session_id = await _session(db)
    dead = await _claim(db, session_id, lease=-1)  # a worker that died: its lease is already over
    assert dead
    taker = await _claim(db, session_id)
    assert taker and taker != dead
    async with db.write() as conn:
        late = await sessions.update_if_holding(conn, session_id=session_id, claim_run_id=dead,
                                                values={"draft_body": "late write"})
    assert not late
    async with db.read() as conn:
        assert (await sessions.get(conn, user_id="u1", session_id=session_id))["draft_body"] is None


async def test_generate_examples_claim_needs_a_skeleton(db: Database) -> None:
    session_id = await _session(db)
    assert await _claim(db, session_id, skeleton=True) is None
    async with db.write() as conn:
        await sessions.update_fields(conn, user_id="u1", session_id=session_id, values={"skeleton": {"hook": "h"}})
    assert await _claim(db, session_id, skeleton=True)
