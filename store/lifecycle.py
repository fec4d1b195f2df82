"""A run's life, written in one place: how it starts, how its lease is kept, and how it ends.

Everything that moves a run to a terminal status goes through :func:`end_run`: the job (success,
failure, timeout, cancel, shutdown), the lease reaper, a cancel of a queued run, a refused or
undispatchable run, and an operator's release. In one transaction it

0. counts the run's usage towards its user's spend of the day (``store.spend``, the daily cap),
   whatever becomes of the run;
1. moves the run row to its terminal status (with ``completed_at``, the ``TaskRunError``, usage,
   output and the last events, so a subscriber that sees the status has every event too), but only
   from the statuses the caller expects (a run that already ended is never reopened);
2. releases the session's claim, only if this run still holds it, writing ``last_run`` (what a
   polling client reads), the session's summed ``usage`` and, on success, the new content;
3. when the claim had moved on, records why instead: the session was deleted (CANCELED,
   ``session_deleted``; unless the run was erased with it, see :mod:`store.erase`) or taken over
   (SYSTEM_FAILURE, ``claim_lost``; the result is discarded).

:func:`start_run` is the other end: PENDING → EXECUTING exactly once, the session read while the
run holds its claim, the user's message and what the session remembers from the request (its
whitelist, its sequence context) stored before any model call, the lease switched from the queue
lease to the short heartbeat lease that :func:`renew_lease` keeps pushing forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from core.errors import RunNotStartable
from core.limits import MAX_MESSAGES, newest
from core.status import ACTIVE_STATUSES, RunStatus
from core.usage import Usage
from store import runs, sessions, spend
from store.db import bound_lock_waits, lock_wait_ended
from store.rows import ClaimedSession, LastRun, RunFailure, RunRow, SessionMemory

SESSION_DELETED = RunFailure("session_deleted", "the session was deleted during the task; the result was discarded")
CLAIM_LOST = RunFailure("claim_lost", "the session's claim was taken over; the result was discarded")
CLAIM_MOVED_ON = RunFailure("claim_lost", "the session's claim moved on before the task started")
LEASE_EXPIRED = RunFailure("lease_expired", "the task stopped reporting before its lease ended (worker lost)")
LEASE_ENDED_BEFORE_START = RunFailure("lease_expired", "the claim's lease ended before the task started")
STALE = RunFailure("lease_expired", "the run outlived its claim's lease")
NOT_STARTED = RunFailure("canceled", "the run was canceled before it started")
# A task must start with at least this much of its lease left.
LEASE_MARGIN = timedelta(seconds=1)

_ACTIVE = tuple(s.value for s in ACTIVE_STATUSES)
PENDING_ONLY = (RunStatus.PENDING.value,)


@dataclass(frozen=True, slots=True)
class RunRef:
    """What ending a run needs: our id (the claim holder), the id clients see, its session and task."""

    id: str
    public_id: str
    session_id: str
    task: str
    user_id: str | None = None  # whose daily spend the run's usage counts towards

    @classmethod
    def of(cls, run: RunRow) -> RunRef:
        return cls(id=run.id, public_id=run.public_id, session_id=run.session_id, task=run.task, user_id=run.user_id)


@dataclass(frozen=True, slots=True)
class Ended:
    status: RunStatus  # what was recorded (differs from the request when the claim had moved on)
    failure: RunFailure | None
    finished: bool  # this call moved the run to its terminal status
    held: bool  # this call released the session's claim


def last_run(run: RunRef, status: RunStatus, now: datetime, failure: RunFailure | None) -> dict[str, Any]:
    record = LastRun(id=run.public_id, task=run.task, status=status.outcome, error=failure,
                     finished_at=now.isoformat().replace("+00:00", "Z"))
    return msgspec.to_builtins(record)


def end_run(
    conn: sa.Connection,
    run: RunRef,
    status: RunStatus,
    *,
    now: datetime,
    failure: RunFailure | None = None,
    usage: Usage | None = None,
    session_usage: Usage | None = None,
    output: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    run_values: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    first_seq: int = 1,
    from_statuses: tuple[str, ...] = _ACTIVE,
    force_release: bool = False,
) -> Ended:
    """End ``run`` with ``status`` (see the module docstring). ``values`` are session columns written
    with the release (the turn's result); ``run_values`` extra run columns (the folded metadata);
    ``events`` the last unflushed events, stored with sequence numbers from ``first_seq``.
    ``force_release`` frees the claim even when the run row had already ended (reaper, operator)."""
    succeeded = status is RunStatus.COMPLETED_SUCCESSFULLY
    if usage is not None and run.user_id is not None:
        # Spent whatever becomes of the run (even erased with its session meanwhile): the daily cap counts it.
        spend.add(conn, user_id=run.user_id, day=now.date(), usage=usage)
    finished = runs.finish(
        conn, run.id, status=status, now=now, from_statuses=from_statuses,
        output=output if succeeded else None, error=failure.task_run_error() if failure else None,
        **({"usage": usage.to_json()} if usage is not None else {}), **(run_values or {}))
    if not finished and not force_release:
        return Ended(status, failure, finished=False, held=False)
    if finished and events:
        runs.append_events(conn, run_id=run.id, first_seq=first_seq, events=events, now=now)
    release = {**(values or {}), **sessions.released(now), "last_run": last_run(run, status, now, failure)}
    if usage is not None:
        release["usage"] = ((session_usage or Usage()) + usage).to_json()
    held = sessions.update_if_holding(conn, session_id=run.session_id, claim_run_id=run.id, values=release)
    if held or not finished:
        return Ended(status, failure, finished=finished, held=held)
    # The claim had moved on while the task ran: say why on the run; the session is someone else's.
    if not sessions.exists(conn, run.session_id):
        status, failure = RunStatus.CANCELED, SESSION_DELETED
    elif succeeded:
        status, failure = RunStatus.SYSTEM_FAILURE, CLAIM_LOST
    else:
        return Ended(status, failure, finished=True, held=False)
    runs.update(conn, run.id, now=now, status=status.value, output=None, error=failure.task_run_error())
    return Ended(status, failure, finished=True, held=False)


def start_run(
    conn: sa.Connection, *, run_id: str, session_id: str, task: str, now: datetime, lease: timedelta,
    user_message: str | None, remember: SessionMemory | None = None,
) -> ClaimedSession:
    """Start a delivered run, or raise :class:`RunNotStartable` after recording why it cannot start.

    ``remember`` is what the run's request gave that the session keeps (a whitelist, a sequence
    context). It is written here, in the one UPDATE that starts the run, rather than with the claim:
    the claim is the hot path of every POST (one statement on PostgreSQL, a CTE we keep minimal), and
    a request whose run never starts (refused, dispatch failed, canceled while queued) must leave the
    session as it was. Runs of one session start in claim order, so the last request given wins. The
    returned session carries the values in effect for this run: the given ones, else the remembered."""
    if not runs.start(conn, run_id, now=now):
        raise RunNotStartable(f"run {run_id} is not pending")
    session = sessions.get_claimed(conn, session_id=session_id, claim_run_id=run_id)
    if session is None:
        deleted = not sessions.exists(conn, session_id)
        failure = SESSION_DELETED if deleted else CLAIM_MOVED_ON
        status = RunStatus.CANCELED if deleted else RunStatus.SYSTEM_FAILURE
        runs.finish(conn, run_id, status=status, now=now, error=failure.task_run_error())
        raise RunNotStartable(failure.message, status=status, code=failure.code)
    ref = RunRef(id=run_id, public_id=session.run_id or run_id, session_id=session_id, task=task,
                 user_id=session.user_id)
    if session.lease_expires_at is None or session.lease_expires_at - LEASE_MARGIN <= now:
        end_run(conn, ref, RunStatus.TIMED_OUT, now=now, failure=LEASE_ENDED_BEFORE_START)
        raise RunNotStartable(LEASE_ENDED_BEFORE_START.message, status=RunStatus.TIMED_OUT,
                              code=LEASE_ENDED_BEFORE_START.code)
    values: dict[str, Any] = {"lease_expires_at": now + lease}
    messages = session.messages
    if user_message is not None:
        # Stored before any model call: a failed turn keeps what the user said. The newest kept (core.limits).
        messages = newest([*(messages or []), {"role": "user", "content": user_message}], MAX_MESSAGES)
        values.update(messages=messages, updated_at=now)
    if remember is not None and (columns := remember.columns()):
        values.update(columns, updated_at=now)
        session = msgspec.structs.replace(session, **remember.typed())
    sessions.update_if_holding(conn, session_id=session_id, claim_run_id=run_id, values=values)
    return msgspec.structs.replace(session, messages=messages, lease_expires_at=now + lease)


def renew_lease(conn: sa.Connection, run: RunRef, *, until: datetime) -> tuple[bool, bool]:
    """Heartbeat: keep the claim while the task is alive. (still held, cancel requested): the first is
    False when the claim is no longer this run's; the second says a cancel was recorded for the run."""
    held = sessions.renew_lease(conn, session_id=run.session_id, claim_run_id=run.id, until=until)
    return held, held and runs.cancel_requested(conn, run.id)


def end_unstarted(conn: sa.Connection, run: RunRow, status: RunStatus, failure: RunFailure, *,
                        now: datetime) -> Ended:
    """End a run that never started (canceled while queued, refused, undispatchable)."""
    return end_run(conn, RunRef.of(run), status, now=now, failure=failure, from_statuses=PENDING_ONLY)


def end_unstarted_id(conn: sa.Connection, run_id: str, status: RunStatus, failure: RunFailure, *,
                     now: datetime) -> Ended | None:
    """:func:`end_unstarted` for a run known by id (None when there is no such run)."""
    run = runs.get(conn, run_id)
    return None if run is None else end_unstarted(conn, run, status, failure, now=now)


def reap_expired(conn: sa.Connection, *, now: datetime, stale_before: datetime) -> tuple[int, list[RunRef]]:
    """Free claims whose lease ended and fail the runs nobody will finish. (count, runs crashed).

    On PostgreSQL a row may be locked by a writer that stopped inside its transaction (a frozen worker
    keeps its locks until the server ends that transaction, ``idle_in_transaction_session_timeout``: one
    lease). Such a claim is left for a later sweep instead of holding up the others: its session row is
    skipped while locked, and a lock met further on (its run row) is waited for at most
    ``ROW_LOCK_WAIT_MS``, then that one claim's work is rolled back to its savepoint."""
    reaped, crashed = 0, []
    bounded = _BoundedLockWaits(conn)
    for session_id, claim_run_id in sessions.expired_claims(conn, now=now, skip_locked=bounded.on):
        if claim_run_id is None:  # a hand-set busy flag: no run to fail
            if bounded.attempt(sessions.release_unowned, conn, session_id=session_id, now=now) is not _LOCKED:
                reaped += 1
            continue
        row = runs.get(conn, claim_run_id)
        ref = RunRef.of(row) if row else RunRef(claim_run_id, claim_run_id, session_id, "unknown")
        if bounded.attempt(end_run, conn, ref, RunStatus.CRASHED, now=now, failure=LEASE_EXPIRED,
                           force_release=True) is not _LOCKED:
            reaped += 1
            crashed.append(ref)
    for row in runs.stale_active(conn, created_before=stale_before):
        if bounded.attempt(runs.finish, conn, row.id, status=RunStatus.CRASHED, now=now,
                           error=STALE.task_run_error()) is not _LOCKED:
            reaped += 1
    bounded.done()
    return reaped, crashed


_LOCKED = object()


class _BoundedLockWaits:
    """PostgreSQL: each unit of the sweep in a savepoint, waiting on a row lock at most
    ``ROW_LOCK_WAIT_MS``. SQLite has one writer at a time and no row locks: a plain call there."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.on = conn.dialect.name == "postgresql"
        if self.on:
            bound_lock_waits(conn)

    def attempt(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        """``work(*args, **kwargs)``, or ``_LOCKED`` (and nothing of it kept) when it met a held lock."""
        if not self.on:
            return work(*args, **kwargs)
        try:
            with self._conn.begin_nested():
                return work(*args, **kwargs)
        except sa.exc.DBAPIError as exc:
            if not lock_wait_ended(exc):
                raise
            return _LOCKED

    def done(self) -> None:
        if self.on:  # the rest of the transaction waits as any other would
            self._conn.exec_driver_sql("SET LOCAL lock_timeout = DEFAULT")
