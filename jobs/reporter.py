"""Reporters: where a running task's ChatStreamEvents go.

Every run has a :class:`RunReporter`: its events are appended to ``run_events`` (the ``chat``
realtime stream, resumable by sequence number) and folded into a compact state in the run's
``metadata`` (phase, reply so far, versions, usage), then ``wake`` tells subscribers to look. A
launcher may add more reporters (the Trigger.dev task adds :class:`bridge.trigger_task.LineReporter`);
:class:`FanOut` sends every call to all of them.

Events are batched: a batch is written when ``flush_interval`` has passed since the first event
that is still waiting (a timer guarantees that, even while the model is silent), never one write
per event. The run's last batch is not flushed separately: the lifecycle writes it in the same
transaction as the run's outcome (:meth:`RunReporter.take`), so a fast turn costs a single write
for all its events, and a subscriber that sees the final status has every event too.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from core.events import ChatStreamEvent, ReplyDeltaEvent, Reporter
from core.ids import utcnow
from store import runs
from store.db import Database

FLUSH_SECONDS = 0.05
STREAM_KEY = "chat"
log = logging.getLogger("campaign_chat.jobs.reporter")

Wake = Callable[[str], Awaitable[None]]


def fold(state: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The run's metadata after ``event``: what a subscriber needs without reading the stream."""
    kind = event["type"]
    if kind == "phase":
        state["phase"] = event["phase"]
    elif kind == "reply_delta":
        state["reply"] = state.get("reply", "") + event["text"]
    elif kind == "reply":
        state["reply"] = event["text"]
    elif kind == "skeleton":
        state["framework_version"] = event["framework_version"]
        state["skeleton_updated"] = True
    elif kind == "draft":
        state["draft_updated"] = True
    elif kind == "example":
        state["examples"] = state.get("examples", 0) + 1
    elif kind == "retry":
        state["retries"] = state.get("retries", 0) + 1
        state["reply"] = ""  # the rejected attempt's reply is void; the next deltas restart it
    elif kind == "usage":
        state["usage"] = {k: event[k] for k in ("input_tokens", "output_tokens", "requests", "cost_usd")}
    elif kind == "error":
        state["error"] = {"code": event["code"], "message": event["message"]}
    elif kind == "done":
        state["phase"] = "done"
        state["status"] = event["status"]
    return state


class _RunEnded(Exception):
    """The run already ended: this batch must not land (a dead turn's progress arriving late)."""


class BatchingReporter(abc.ABC):
    """Buffers events (reply deltas coalesced) and writes them in batches; never raises into the job.

    Subclasses write a batch in :meth:`_write` (and fold it into ``self._state``).
    """

    flush_interval = FLUSH_SECONDS

    def __init__(self) -> None:
        self._state: dict[str, Any] = {"phase": "queued"}
        self._pending: list[dict[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.failures = 0
        self.dropped = 0  # batches refused because the run had already ended

    @property
    def state(self) -> dict[str, Any]:
        return dict(self._state)

    async def emit(self, event: ChatStreamEvent) -> None:
        if isinstance(event, ReplyDeltaEvent) and self._pending and self._pending[-1]["type"] == "reply_delta":
            self._pending[-1] = {"type": "reply_delta", "text": self._pending[-1]["text"] + event.text}
            return
        self._pending.append(msgspec.to_builtins(event))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.flush_interval, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def flush(self) -> None:
        async with self._lock:
            self._cancel_timer()
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                await self._write(batch)
            except _RunEnded:
                self.dropped += 1
            except Exception:  # noqa: BLE001 - progress reporting is best effort by design
                self.failures += 1
                log.warning("progress report failed", exc_info=True)

    async def settled(self) -> None:
        """The run's outcome is stored; nothing to do unless the subclass wakes someone."""
        return None

    async def aclose(self) -> None:
        await self.flush()
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)

    @abc.abstractmethod
    async def _write(self, batch: list[dict[str, Any]]) -> None:
        """Store or send one batch of events (and fold them into ``self._state``)."""


def _store_batch(conn: sa.Connection, run_id: str, state: dict[str, Any], batch: list[dict[str, Any]],
                 first_seq: int, now: datetime) -> bool:
    """One batch in one transaction: the folded metadata on the run (only while it is active), then the
    events. False, writing nothing, when the run already ended."""
    if not runs.update(conn, run_id, now=now, only_active=True, metadata=state, realtime_streams=[STREAM_KEY]):
        return False
    runs.append_events(conn, run_id=run_id, first_seq=first_seq, events=batch, now=now)
    return True


class RunReporter(BatchingReporter):
    """Persists a run's events and wakes its subscribers after each committed batch."""

    def __init__(self, db: Database, run_id: str, *, wake: Wake | None = None) -> None:
        super().__init__()
        self._db = db
        self._run_id = run_id
        self._wake = wake
        self._seq = 0

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        now = utcnow()
        for data in batch:
            fold(self._state, data)
        if not await self._db.run(_store_batch, self._run_id, dict(self._state), batch, self._seq + 1, now):
            # The run already ended (the reaper crashed it while this worker was frozen or cut
            # off): nothing was written, a dead turn's progress must not land late.
            raise _RunEnded
        self._seq += len(batch)
        await self._publish()

    async def take(self) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        """Hand the unwritten events over to be stored with the run's outcome, in its transaction:
        (events, sequence number of the first, the folded state). They count as written from now on."""
        async with self._lock:
            self._cancel_timer()
            batch, self._pending = self._pending, []
            for data in batch:
                fold(self._state, data)
            first = self._seq + 1
            self._seq += len(batch)
            return batch, first, dict(self._state)

    async def settled(self) -> None:
        """Wake subscribers once more: the run's outcome (its final status) is stored, and a
        subscriber waiting for that status must not wait for a poll."""
        try:
            await self._publish()
        except Exception:  # noqa: BLE001 - subscribers still see the outcome on their next poll
            self.failures += 1

    async def _publish(self) -> None:
        if self._wake is not None:
            await self._wake(self._run_id)


class FanOut:
    """Sends each call to several reporters, in order; each one is best effort on its own."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    async def emit(self, event: ChatStreamEvent) -> None:
        for reporter in self.reporters:
            await reporter.emit(event)

    async def flush(self) -> None:
        for reporter in self.reporters:
            await reporter.flush()

    async def settled(self) -> None:
        for reporter in self.reporters:
            await reporter.settled()

    async def aclose(self) -> None:
        for reporter in self.reporters:
            await reporter.aclose()
