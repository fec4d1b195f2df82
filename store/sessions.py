"""Session repository: every query on ``chat_sessions``, including the claim and its release.

The claim rule lives here and nowhere else: a session is free when ``task_status`` is null or its
lease has ended; claiming is ONE conditional UPDATE that sets status, holder and lease together.
Job writes go through :func:`update_if_holding`, so a worker that lost its claim writes nothing.
How a run ends (release + ``last_run`` + the run's terminal status) is :mod:`store.lifecycle`'s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.db import ROW_LOCK_WAIT_MS, Database, RowLockWaitEnded, lock_wait_ended
from store.prepared import bound, set_clause, shape
from store.rows import CLAIMED_FIELDS, SESSION_FIELDS, ClaimedSession, SessionRow, claimed_session, session_row
from store.runs import RUN_COLUMNS
from store.tables import runs as runs_t, sessions as t

_public = [t.c[name] for name in SESSION_FIELDS]
_claimed = [t.c[name] for name in CLAIMED_FIELDS]


def _owned(session_id: str, user_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(t.c.id == session_id, t.c.user_id == user_id)


def create(
    conn: sa.Connection, *, user_id: str, campaign_id: str, node_id: str, title: str | None, now: datetime
) -> SessionRow:
    row = SessionRow(id=str(uuid.uuid4()), user_id=user_id, campaign_id=campaign_id, node_id=node_id, title=title,
                     created_at=now, updated_at=now)
    conn.execute(sa.insert(t).values(id=row.id, user_id=user_id, campaign_id=campaign_id, node_id=node_id,
                                           title=title, created_at=now, updated_at=now))
    return row


def list_for_campaign(conn: sa.Connection, *, user_id: str, campaign_id: str, limit: int,
                            after: tuple[datetime, str] | None = None) -> list[SessionRow]:
    """Up to ``limit`` of the user's sessions of the campaign in ``(created_at, id)`` order, strictly
    after the position ``after`` (the last row of the previous page) when given."""
    conditions = [t.c.user_id == user_id, t.c.campaign_id == campaign_id]
    if after is not None:
        created_at, session_id = after
        conditions.append(sa.or_(t.c.created_at > created_at,
                                 sa.and_(t.c.created_at == created_at, t.c.id > session_id)))
    stmt = sa.select(*_public).where(*conditions).order_by(t.c.created_at, t.c.id).limit(limit)
    return [session_row(row._mapping) for row in conn.execute(stmt)]


# Built once: a poll reads a session, every run's start reads it as its claim holder (store.prepared).
_GET = sa.select(*_public).where(t.c.id == sa.bindparam("sid"), t.c.user_id == sa.bindparam("uid"))
_GET_CLAIMED = sa.select(*_claimed).where(t.c.id == sa.bindparam("sid"), t.c.claim_run_id == sa.bindparam("rid"))
_EXISTS = sa.select(t.c.id).where(t.c.id == sa.bindparam("sid"))


def get(conn: sa.Connection, *, user_id: str, session_id: str) -> SessionRow | None:
    row = (conn.execute(_GET, {"sid": session_id, "uid": user_id})).first()
    return session_row(row._mapping) if row else None


def get_claimed(conn: sa.Connection, *, session_id: str, claim_run_id: str) -> ClaimedSession | None:
    """The session as its claim holder sees it, only while ``claim_run_id`` still holds the claim."""
    row = (conn.execute(_GET_CLAIMED, {"sid": session_id, "rid": claim_run_id})).first()
    return claimed_session(row._mapping) if row else None


def exists(conn: sa.Connection, session_id: str) -> bool:
    return (conn.execute(_EXISTS, {"sid": session_id})).first() is not None


def owned_exists(conn: sa.Connection, *, session_id: str, user_id: str) -> bool:
    return (conn.execute(sa.select(t.c.id).where(_owned(session_id, user_id)))).first() is not None


def update_fields(
    conn: sa.Connection, *, user_id: str, session_id: str, values: dict[str, Any]
) -> SessionRow | None:
    stmt = sa.update(t).where(_owned(session_id, user_id)).values(**values).returning(*_public)
    row = (conn.execute(stmt)).first()
    return session_row(row._mapping) if row else None


# PostgreSQL: the claim waits for the session's row lock at most ROW_LOCK_WAIT_MS (a live writer holds it for
# milliseconds; a stalled transaction, up to a lease). Set from the UPDATE's own WHERE clause, so it costs no
# round trip; it is evaluated on the row found, before the row lock is waited for, and ``is_local`` scopes
# it to the claim's transaction (the one statement, in autocommit).
_BOUNDED_LOCK_WAIT = sa.func.set_config(
    sa.literal_column("'lock_timeout'"), sa.literal_column(f"'{ROW_LOCK_WAIT_MS}ms'"), sa.true()).is_not(None)


class ClaimLockWaitEnded(RowLockWaitEnded):
    """PostgreSQL: the claim gave up waiting for the session's row lock (see ``ROW_LOCK_WAIT_MS``); the
    transaction it ran in is aborted. The session is being written by someone: the claim is refused."""


def _claim_statement(*, require_skeleton: bool, bounded_wait: bool = False) -> sa.Update:
    """The claim, built once: bound per call with sid, uid, now, status, run_id, lease."""
    free = sa.or_(t.c.task_status.is_(None), t.c.lease_expires_at <= sa.bindparam("now"))
    conditions = [t.c.id == sa.bindparam("sid"), t.c.user_id == sa.bindparam("uid"), free]
    if require_skeleton:
        conditions.append(t.c.skeleton.is_not(None))
    if bounded_wait:
        conditions.append(_BOUNDED_LOCK_WAIT)
    return (
        sa.update(t)
        .where(*conditions)
        .values(task_status=sa.bindparam("status"), claim_run_id=sa.bindparam("rid"), run_id=sa.bindparam("rid"),
                lease_expires_at=sa.bindparam("lease"), updated_at=sa.bindparam("now"))
    )


_CLAIM = {(flag, pg): _claim_statement(require_skeleton=flag, bounded_wait=pg) for flag in (False, True)
          for pg in (False, True)}
_INSERT_RUN = sa.insert(runs_t)
_CLAIM_STATE = sa.select(t.c.task_status, t.c.run_id, t.c.lease_expires_at, t.c.skeleton.is_not(None)).where(
    t.c.id == sa.bindparam("sid"), t.c.user_id == sa.bindparam("uid"))


@dataclass(frozen=True, slots=True)
class ClaimState:
    task_status: str | None
    run_id: str | None
    lease_expires_at: datetime | None
    has_skeleton: bool


def _state(row: Any) -> ClaimState | None:
    return ClaimState(row[0], row[1], row[2], bool(row[3])) if row else None


def claim_state(conn: sa.Connection, *, session_id: str, user_id: str) -> ClaimState | None:
    """Why a claim failed: the row's current holder (None when the session is not the caller's)."""
    return _state(conn.execute(_CLAIM_STATE, {"sid": session_id, "uid": user_id}).first())


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """``won``, or why not: ``state`` is the current holder (None when the session is not the caller's)."""

    won: bool
    state: ClaimState | None = None


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    session_id: str
    user_id: str
    task_status: str
    run_id: str
    now: datetime
    lease_until: datetime
    require_skeleton: bool

    def statement(self, conn: sa.Connection) -> sa.Update:
        return _CLAIM[self.require_skeleton, conn.dialect.name == "postgresql"]

    def params(self) -> dict[str, Any]:
        return {"sid": self.session_id, "uid": self.user_id, "now": self.now, "status": self.task_status,
                "rid": self.run_id, "lease": self.lease_until}


def claim_and_record_sync(conn: sa.Connection, claim: ClaimRequest, run_values: dict[str, Any]) -> ClaimOutcome:
    """Claim and insert the run inside the caller's transaction; on a loss, say who holds the session.
    Raises :class:`ClaimLockWaitEnded` (PostgreSQL) when the row stayed locked: the transaction is aborted."""
    try:
        won = conn.execute(claim.statement(conn), claim.params()).rowcount == 1
    except sa.exc.DBAPIError as exc:
        if lock_wait_ended(exc):
            raise ClaimLockWaitEnded(claim.session_id) from exc
        raise
    if won:
        conn.execute(_INSERT_RUN, run_values)
        return ClaimOutcome(True)
    return ClaimOutcome(False, claim_state(conn, session_id=claim.session_id, user_id=claim.user_id))


async def claim_and_record_in(conn: AsyncConnection, claim: ClaimRequest, run_values: dict[str, Any]) -> ClaimOutcome:
    """:func:`claim_and_record_sync` inside an async transaction the caller holds."""
    return await conn.run_sync(claim_and_record_sync, claim, run_values)


def _pg_claim_statement(*, require_skeleton: bool) -> sa.Select[Any]:
    """PostgreSQL's one-statement claim, built once (see :func:`claim_and_record`)."""
    current = (
        sa.select(t.c.task_status, t.c.run_id, t.c.lease_expires_at, t.c.skeleton.is_not(None).label("has_skeleton"))
        .where(t.c.id == sa.bindparam("sid"), t.c.user_id == sa.bindparam("uid"))
        .cte("current_state")
    )
    claimed = _claim_statement(require_skeleton=require_skeleton, bounded_wait=True).returning(t.c.id).cte("claimed")
    names = list(RUN_COLUMNS)
    row_source = sa.select(*[sa.bindparam(f"r_{n}", type_=runs_t.c[n].type) for n in names]).select_from(claimed)
    inserted = sa.insert(runs_t).from_select(names, row_source).returning(runs_t.c.id).cte("inserted")
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    return sa.select(
        sa.select(sa.func.count()).select_from(inserted).scalar_subquery().label("won"),
        current.c.task_status, current.c.run_id, current.c.lease_expires_at, current.c.has_skeleton,
    ).select_from(one.outerjoin(current, sa.true()))


_PG_CLAIM = {flag: _pg_claim_statement(require_skeleton=flag) for flag in (False, True)}


async def claim_and_record(db: Database, claim: ClaimRequest, run_values: dict[str, Any]) -> ClaimOutcome:
    """Claim the session and insert its run row, atomically; on a loss, say who holds it.

    PostgreSQL does it in ONE statement and one round trip (no BEGIN/COMMIT): a CTE reads the row's
    current state, a second one performs the conditional UPDATE, a third inserts the run only if the
    update matched. SQLite runs the same steps in one ``BEGIN IMMEDIATE`` transaction (in-process).
    """
    if db.is_sqlite:
        return await db.run(claim_and_record_sync, claim, run_values)
    params = {**claim.params(), **{f"r_{name}": value for name, value in run_values.items()}}
    async with db.autocommit() as conn:
        try:
            row = (await conn.execute(_PG_CLAIM[claim.require_skeleton], params)).one()
        except sa.exc.DBAPIError as exc:
            if not lock_wait_ended(exc):
                raise
            # A stalled transaction holds the row: refused, naming the holder its last commit shows.
            return ClaimOutcome(False, await conn.run_sync(claim_state, session_id=claim.session_id,
                                                           user_id=claim.user_id))
        if row.won:
            return ClaimOutcome(True)
        if row.has_skeleton is None:
            return ClaimOutcome(False, None)
        state = ClaimState(row.task_status, row.run_id, row.lease_expires_at, bool(row.has_skeleton))
        if state.task_status is None or (state.lease_expires_at is not None and state.lease_expires_at <= claim.now):
            # Our snapshot predates a winner that committed while we waited on its row lock: read again.
            state = await conn.run_sync(claim_state, session_id=claim.session_id, user_id=claim.user_id) or state
        return ClaimOutcome(False, state)


def set_public_run_id(conn: sa.Connection, *, session_id: str, claim_run_id: str, public_id: str) -> None:
    conn.execute(
        sa.update(t).where(t.c.id == session_id, t.c.claim_run_id == claim_run_id).values(run_id=public_id)
    )


def released(now: datetime) -> dict[str, Any]:
    """Column values that end a claim."""
    return {"task_status": None, "claim_run_id": None, "run_id": None, "lease_expires_at": None, "updated_at": now}


def update_if_holding(
    conn: sa.Connection, *, session_id: str, claim_run_id: str, values: dict[str, Any]
) -> bool:
    """Write ``values`` only while ``claim_run_id`` holds the session's claim. True if it did."""
    stmt = _holding_update(shape(values))
    return (conn.execute(stmt, bound(values, sid=session_id, rid=claim_run_id))).rowcount == 1


@lru_cache(maxsize=64)
def _holding_update(columns: tuple[str, ...]) -> sa.Update:
    """UPDATE of ``columns`` while the run ``rid`` holds session ``sid``'s claim, built once per shape."""
    return (sa.update(t).where(t.c.id == sa.bindparam("sid"), t.c.claim_run_id == sa.bindparam("rid"))
            .values(**set_clause(t, columns)))


def renew_lease(conn: sa.Connection, *, session_id: str, claim_run_id: str, until: datetime) -> bool:
    """The heartbeat: push the lease of a claim this run still holds to ``until``. False when it moved on."""
    return update_if_holding(conn, session_id=session_id, claim_run_id=claim_run_id,
                                   values={"lease_expires_at": until})


def expired_claims(conn: sa.Connection, *, now: datetime, limit: int = 100,
                   skip_locked: bool = False) -> list[tuple[str, str]]:
    """(session_id, claim_run_id) of claims whose lease has ended. ``skip_locked`` (PostgreSQL): lock the
    rows returned, leaving out any another transaction holds (the reaper's, see ``lifecycle.reap_expired``)."""
    stmt = (
        sa.select(t.c.id, t.c.claim_run_id)
        .where(t.c.task_status.is_not(None), t.c.lease_expires_at <= now)
        .limit(limit)
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    return [(row[0], row[1]) for row in conn.execute(stmt)]


def count_busy(conn: sa.Connection) -> int:
    stmt = sa.select(sa.func.count()).select_from(t).where(t.c.task_status.is_not(None))
    return int((conn.execute(stmt)).scalar_one())


def release_unowned(conn: sa.Connection, *, session_id: str, now: datetime) -> bool:
    """End a hand-set busy flag (PATCH task_status) whose lease ran out; it has no run to fail."""
    stmt = (
        sa.update(t)
        .where(t.c.id == session_id, t.c.claim_run_id.is_(None), t.c.lease_expires_at <= now)
        .values(**released(now))
    )
    return (conn.execute(stmt)).rowcount == 1


@dataclass(frozen=True, slots=True)
class Holder:
    task_status: str | None
    claim_run_id: str | None
    run_id: str | None
    lease_expires_at: datetime | None


def holder(conn: sa.Connection, *, session_id: str) -> Holder | None:
    """Operator view of a session's claim, whoever owns the session (None when it does not exist)."""
    stmt = sa.select(t.c.task_status, t.c.claim_run_id, t.c.run_id, t.c.lease_expires_at).where(t.c.id == session_id)
    row = (conn.execute(stmt)).first()
    return Holder(row[0], row[1], row[2], row[3]) if row else None


def release_by_operator(
    conn: sa.Connection, *, session_id: str, claim_run_id: str | None, now: datetime, **values: Any
) -> bool:
    """Clear a claim deliberately, only if ``claim_run_id`` (None: a hand-set flag) still holds it."""
    held = t.c.claim_run_id.is_(None) if claim_run_id is None else t.c.claim_run_id == claim_run_id
    stmt = (
        sa.update(t)
        .where(t.c.id == session_id, t.c.task_status.is_not(None), held)
        .values(**values, **released(now))
    )
    return (conn.execute(stmt)).rowcount == 1
