"""Read side of realtime: the Electric shape (snapshot, then live long-poll) and the v1 SSE stream.

Both register with the :class:`WakeHub` before their first read and then wait for a wake-up (or the
slow poll) between reads: the database is the only source of truth, a wake-up just says "look now".
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from core.ids import utcnow
from jobs.reporter import STREAM_KEY
from services.realtime import shape
from services.realtime.access import AccessChecker, Caller, not_found
from services.realtime.params import ShapeParams
from services.realtime.slots import CallerSlots, Slot
from store import runs
from store.db import Database
from store.rows import RunEvent, RunRow
from store.wake import WakeHub

LONG_POLL_SECONDS = 20.0
PING_SECONDS = 10.0


@dataclass
class ShapeReply:
    messages: list[dict[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


def _cursor() -> str:
    return str(time.time_ns() // 1_000_000)


def _frame(row: RunEvent) -> bytes:
    ms = int(row.created_at.timestamp() * 1000)
    data = json.dumps(row.event, separators=(",", ":"))
    return f"id: {ms}-{row.seq}\ndata: {data}\n\n".encode()


class RunFeed:
    def __init__(self, db: Database, hub: WakeHub, access: AccessChecker, *, long_poll_seconds: float = LONG_POLL_SECONDS,
                 per_caller: int = 20) -> None:
        self._db = db
        self._hub = hub
        self._access = access
        self.long_poll_seconds = long_poll_seconds
        self.slots = CallerSlots(per_caller)  # concurrent shape requests and streams per credential

    async def _load(self, run_id: str) -> RunRow | None:
        return await self._db.run_read(runs.get, run_id)

    async def shape(self, caller: Caller, run_id: str, params: ShapeParams, *, skip: frozenset[str]) -> ShapeReply:
        slot = self.slots.acquire(caller.credential)
        try:
            return await self._shape(caller, run_id, params, skip)
        finally:
            slot.release()

    async def _shape(self, caller: Caller, run_id: str, params: ShapeParams, skip: frozenset[str]) -> ShapeReply:
        run = self._access.check(caller, "read", await self._load(run_id))
        skip = skip | _token_skips(caller)
        expected = shape.handle(run)
        seen, offset = params.version, params.offset
        if params.handle and params.handle != expected and seen is not None:
            # A handle we never issued: tell the client to start over (Electric's must-refetch).
            return ShapeReply([shape.MUST_REFETCH], {"electric-handle": expected}, status=409)
        if not params.live or seen is None:
            return self._reply(run, "insert", skip, live=False)
        with self._hub.watch(run.id) as watcher:
            deadline = time.monotonic() + self.long_poll_seconds
            while True:
                current = await self._load(run_id)
                if current is None:
                    raise not_found()
                if current.version > seen:
                    return self._reply(current, "update", skip, live=True)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return ShapeReply([shape.UP_TO_DATE], self._headers(current, skip, live=True, offset=offset))
                await watcher.wait(remaining)

    def _reply(self, run: RunRow, operation: str, skip: frozenset[str], *, live: bool) -> ShapeReply:
        # Always the full row (Electric merges updates, but a full row is valid after any restart).
        messages = [shape.change(run, operation, utcnow(), skip), shape.UP_TO_DATE]
        return ShapeReply(messages, self._headers(run, skip, live=live))

    @staticmethod
    def _headers(run: RunRow, skip: frozenset[str], *, live: bool, offset: str | None = None) -> dict[str, str]:
        headers = {
            "electric-handle": shape.handle(run),
            "electric-offset": offset or shape.offset(run),
            "electric-schema": shape.schema_header(skip),
            "electric-up-to-date": "",
        }
        if live:
            headers["electric-cursor"] = _cursor()
        return headers

    async def open_stream(self, caller: Caller, run_id: str, key: str, after: int) -> AsyncIterator[bytes]:
        """Check access now (so errors get a status), then return the SSE body iterator from seq ``after``."""
        slot = self.slots.acquire(caller.credential)
        try:
            run = self._access.check(caller, "read", await self._load(run_id))
        except BaseException:
            slot.release()
            raise
        return self._events(run.id, key, after, slot)

    async def _events(self, run_id: str, key: str, after: int, slot: Slot) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._frames(run_id, key, after):
                yield chunk
        finally:
            slot.release()

    async def _frames(self, run_id: str, key: str, after: int) -> AsyncIterator[bytes]:
        with self._hub.watch(run_id) as watcher:
            yield b": ping\n\n"
            last_sent = time.monotonic()
            while True:
                state, rows = await self._db.run_read(_watch, run_id, after, key == STREAM_KEY)
                for row in rows:
                    yield _frame(row)
                    after = row.seq
                if rows:
                    last_sent = time.monotonic()
                    continue
                # The status was read before the events: once terminal, every event is already written.
                if state is None or state[0].terminal:
                    return
                await watcher.wait(PING_SECONDS)
                if time.monotonic() - last_sent >= PING_SECONDS:
                    yield b": ping\n\n"
                    last_sent = time.monotonic()


def _token_skips(caller: Caller) -> frozenset[str]:
    realtime = (caller.claims.raw.get("realtime") if caller.claims else None) or {}
    columns = realtime.get("skipColumns") if isinstance(realtime, dict) else None
    return frozenset(c for c in columns or [] if isinstance(c, str))


def _watch(conn: sa.Connection, run_id: str, after: int, with_events: bool) -> tuple[Any, list[RunEvent]]:
    """The run's (status, version), then its events after ``after``, in one read."""
    state = runs.watch_state(conn, run_id)
    return state, runs.events_after(conn, run_id=run_id, after_seq=after) if with_events else []
