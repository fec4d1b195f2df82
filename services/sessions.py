"""Session operations: the business rules behind every endpoint, one method each.

Controllers call exactly one method here. Each method owns its transaction; the dispatch methods
own the claim protocol: claim (one conditional write) and record the run in one transaction,
hand over to the bridge, and on a failed hand-over end the run and release the claim
(:func:`store.lifecycle.end_unstarted`) before reporting 500.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, time, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from bridge.base import Bridge, Dispatched
from bridge.tokens import TokenSigner
from core import limits
from core.errors import BadRequest, DispatchError, DispatchFailed, NotFound, RateLimited, SessionBusy
from core.ids import new_run_id, utcnow
from core.payloads import (
    DEFAULT_LIST_LIMIT,
    TASK_STATUS_FOR,
    ChatTurnPayload,
    CreateSessionInput,
    ExamplesInput,
    ExamplesPayload,
    PatchSessionInput,
    TaskPayload,
    TurnInput,
)
from core.settings import Settings
from core.status import RunStatus
from ops import logs, observe, tracing
from services import pagination
from services.idempotency import Idempotency, IdempotencyRequest
from store import erase, lifecycle, runs, sessions, spend
from store.db import Database
from store.rows import RunFailure, SessionRow
from store.wake import Wake

log = logging.getLogger("campaign_chat.sessions")

NO_FRAMEWORK = "Session has no framework yet. Chat first to create one."


class SessionService:
    def __init__(self, db: Database, bridge: Bridge, settings: Settings, signer: TokenSigner,
                 wake: Wake | None = None) -> None:
        self.db = db
        self.bridge = bridge
        self.settings = settings
        self._wake = wake
        # A dispatched run holds the session this long until it starts; then its heartbeat keeps it.
        self._queue_lease = timedelta(seconds=settings.queue_lease_seconds)
        self.idempotency = Idempotency(settings, signer=signer)

    async def create(self, user_id: str, body: CreateSessionInput) -> SessionRow:
        return await self.db.run(sessions.create, user_id=user_id, campaign_id=body.campaign_id,
                                 node_id=body.node_id, title=body.title, now=utcnow())

    async def list(self, user_id: str, campaign_id: str, *, limit: int = DEFAULT_LIST_LIMIT,
                   cursor: str | None = None) -> tuple[list[SessionRow], str | None]:
        """One page of the user's sessions of a campaign, oldest first, and the cursor of the next page
        (None on the last one)."""
        after = pagination.decode(cursor) if cursor is not None else None
        rows = await self.db.run_read(sessions.list_for_campaign, user_id=user_id, campaign_id=campaign_id,
                                      limit=limit + 1, after=after)
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        last = rows[-1]
        assert last.created_at is not None
        return rows, pagination.encode(last.created_at, last.id)

    async def get(self, user_id: str, session_id: str) -> SessionRow:
        row = await self.db.run_read(sessions.get, user_id=user_id, session_id=session_id)
        if row is None:
            raise NotFound("Session not found")
        return row

    async def patch(self, user_id: str, session_id: str, body: PatchSessionInput) -> SessionRow:
        """Write only the keys present. Not blocked by a running task (documented: may race)."""
        values = body.present()
        limits.check_session_fields(values)
        now = utcnow()
        if "task_status" in values:
            # Setting the flag by hand gets a lease like any claim; clearing it frees the session and makes
            # a running task's later writes miss (they are conditional on holding the claim).
            if values["task_status"] is None:
                values.update(sessions.released(now))
            else:
                values.update(claim_run_id=None, run_id=None, lease_expires_at=now + self._queue_lease)
        def write(conn: sa.Connection) -> SessionRow | None:
            if "skeleton" in values and "generated_examples" not in values:
                current = sessions.get(conn, user_id=user_id, session_id=session_id)
                if current is None:
                    return None
                if current.skeleton != values["skeleton"]:
                    values["generated_examples"] = None  # examples were written from the old skeleton
            return sessions.update_fields(conn, user_id=user_id, session_id=session_id,
                                          values={**values, "updated_at": now})

        row = await self.db.run(write)
        if row is None:
            raise NotFound("Session not found")
        return row

    async def delete(self, user_id: str, session_id: str) -> None:
        """Erase the session with its runs, their events and idempotency records (store.erase). A task
        still running loses its claim: its heartbeat stops it within a third of the lease, and it
        writes nothing back."""
        erased = await self.db.run(erase.erase_session, session_id=session_id, user_id=user_id)
        if erased is None:
            raise NotFound("Session not found")
        await self.bridge.forget(erased.run_ids)
        await self._wake_erased(erased.run_ids)

    async def _wake_erased(self, run_ids: list[str]) -> None:
        """Subscribers of an erased run look again now, find it gone, and end (as for an unknown run)."""
        if self._wake is None:
            return
        for run_id in run_ids:
            try:
                await self._wake(run_id)
            except Exception:  # noqa: BLE001 - they find the run gone on their next check anyway
                log.warning("wake-up for erased run %s was not delivered", run_id)

    async def start_turn(self, user_id: str, session_id: str, body: TurnInput,
                         idempotency_key: str | None = None) -> Dispatched:
        """Claim and dispatch one chat turn; with ``idempotency_key`` a retry replays the first answer."""
        limits.check_leads(body.sampleLeads, "sampleLeads")
        run_id = new_run_id()
        payload = ChatTurnPayload(run_id=run_id, session_id=session_id, user_id=user_id, input=body)
        return await self._dispatch(payload, require_skeleton=False, idempotency_key=idempotency_key)

    async def start_examples(self, user_id: str, session_id: str, body: ExamplesInput,
                             idempotency_key: str | None = None) -> Dispatched:
        """Claim and dispatch example generation; ``idempotency_key`` as for :meth:`start_turn`."""
        limits.check_leads(body.leads, "leads")
        run_id = new_run_id()
        payload = ExamplesPayload(run_id=run_id, session_id=session_id, user_id=user_id, input=body)
        return await self._dispatch(payload, require_skeleton=True, idempotency_key=idempotency_key)

    async def _dispatch(self, payload: TaskPayload, *, require_skeleton: bool,
                        idempotency_key: str | None = None) -> Dispatched:
        task = type(payload).__struct_config__.tag
        now = utcnow()
        logs.bind(session_id=payload.session_id, task=task, backend=self.bridge.name)
        idem = None if idempotency_key is None else IdempotencyRequest.build(
            user_id=payload.user_id, task=task, session_id=payload.session_id, header=idempotency_key,
            body=payload.input)
        # W3C context for the job's spans; the request id for its log lines, in whatever process it runs.
        payload = msgspec.structs.replace(payload, trace=tracing.inject(), request_id=logs.current("request_id"))
        run_values = runs.new_run_values(run_id=payload.run_id, session_id=payload.session_id, user_id=payload.user_id,
                                         task=task, backend=self.bridge.name, payload=msgspec.to_builtins(payload),
                                         tags=[f"session:{payload.session_id}"], now=now)
        claim = sessions.ClaimRequest(session_id=payload.session_id, user_id=payload.user_id,
                                      task_status=TASK_STATUS_FOR[task], run_id=payload.run_id, now=now,
                                      lease_until=now + self._queue_lease, require_skeleton=require_skeleton)
        with tracing.span("claim", session_id=payload.session_id):
            if idem is None:
                if self.settings.daily_token_limit:
                    used = await self.db.run_read(spend.tokens_on, user_id=payload.user_id, day=now.date())
                    self._within_daily_spend(used, payload, now)
                outcome = await sessions.claim_and_record(self.db, claim, run_values)  # one round trip on PostgreSQL
                if not outcome.won:
                    raise self._claim_refused(outcome.state, payload, now, require_skeleton=require_skeleton)
            else:
                try:
                    async with self.db.write() as conn:
                        # The key is reserved before the claim and in its transaction: a refused claim rolls it back.
                        if (replay := await self.idempotency.reserve_or_replay(conn, idem, now)) is not None:
                            log.info("idempotent replay of run %s", replay.run_id)
                            return replay  # replays spend nothing: never refused for the daily spend
                        if self.settings.daily_token_limit:
                            used = await conn.run_sync(spend.tokens_on, user_id=payload.user_id, day=now.date())
                            self._within_daily_spend(used, payload, now)
                        outcome = await sessions.claim_and_record_in(conn, claim, run_values)
                        if not outcome.won:  # raised inside: the transaction, the key with it, rolls back
                            raise self._claim_refused(outcome.state, payload, now, require_skeleton=require_skeleton)
                except sessions.ClaimLockWaitEnded:  # rolled back too; the holder as last committed
                    state = await self.db.run_read(sessions.claim_state, session_id=payload.session_id,
                                                   user_id=payload.user_id)
                    raise self._claim_refused(state, payload, now, require_skeleton=require_skeleton) from None
        logs.bind(run_id=payload.run_id)
        try:
            with tracing.span("dispatch", backend=self.bridge.name, run_id=payload.run_id):
                dispatched = await self.bridge.dispatch(payload)
        except DispatchError as exc:
            await self._release_after_failed_dispatch(payload, str(exc), idem)
            raise DispatchFailed("The task could not be dispatched; the session was released, retry now.",
                                 reason=str(exc)) from exc
        if dispatched.external_id or idem is not None:
            async with self.db.write() as conn:
                if dispatched.external_id:
                    await conn.run_sync(_record_external_id, payload, dispatched.external_id)
                if idem is not None:
                    await self.idempotency.complete(conn, idem, dispatched)
        observe.dispatch_outcome(payload, self.bridge.name, "accepted")
        return dispatched

    def _within_daily_spend(self, used: int, payload: TaskPayload, now: datetime) -> None:
        """Refuse a new task once its user spent ``CAMPAIGN_CHAT_DAILY_TOKEN_LIMIT`` tokens this UTC day:
        429 ``spend_limit_reached`` until midnight UTC, before anything is claimed or stored."""
        limit = self.settings.daily_token_limit
        if not limit:
            return
        if used < limit:
            return
        observe.dispatch_outcome(payload, self.bridge.name, "spend_limited", reason=f"{used}/{limit}")
        midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
        raise RateLimited(
            f"Daily token limit reached: {used} of {limit} tokens used today (UTC). New turns and example "
            "generation start again at 00:00 UTC.",
            retry_after=max(1, math.ceil((midnight - now).total_seconds())), code="spend_limit_reached")

    def _claim_refused(self, state: sessions.ClaimState | None, payload: TaskPayload, now: Any, *,
                       require_skeleton: bool) -> Exception:
        if state is None:
            return NotFound("Session not found")
        free = state.task_status is None or (state.lease_expires_at is not None and state.lease_expires_at <= now)
        # "free" here can also mean the holder finished between the claim and this read (409 then):
        # only a task that needs a skeleton may be refused for lacking one.
        if free and require_skeleton and not state.has_skeleton:
            return BadRequest(NO_FRAMEWORK, code="no_framework")
        observe.dispatch_outcome(payload, self.bridge.name, "busy", reason=state.run_id)
        return SessionBusy(
            f"Session is busy ({state.task_status or 'finishing a task'}); wait for task_status to clear, then retry.",
            task_status=state.task_status,
            run_id=state.run_id,
        )

    async def _release_after_failed_dispatch(self, payload: TaskPayload, reason: str,
                                             idem: IdempotencyRequest | None) -> None:
        async with self.db.write() as conn:
            if idem is not None:
                await self.idempotency.forget(conn, idem)
            await conn.run_sync(lifecycle.end_unstarted_id, payload.run_id, RunStatus.SYSTEM_FAILURE,
                                RunFailure("dispatch_failed", reason), now=utcnow())
        observe.dispatch_outcome(payload, self.bridge.name, "dispatch_failed", reason=reason)


def _record_external_id(conn: sa.Connection, payload: TaskPayload, external_id: str) -> None:
    """The id the backend gave the run is the one clients follow from now on."""
    runs.update(conn, payload.run_id, now=utcnow(), external_id=external_id)
    sessions.set_public_run_id(conn, session_id=payload.session_id, claim_run_id=payload.run_id, public_id=external_id)
