"""The reporter local launchers (inline, ARQ) hand to a job: events go to the run's rows.

Each event is appended to ``run_events`` (the ``chat`` realtime stream, resumable by sequence
number) and folded into a compact state in the run's ``metadata`` (phase, reply so far, versions,
usage), in one transaction; then ``wake`` tells subscribers to look. Reply deltas are coalesced
for ``DELTA_FLUSH_SECONDS`` so a fast token stream costs a handful of writes, not one per token.
"""

from __future__ import annotations

import abc
import logging
import time
from typing import Any

import msgspec

from core.events import ChatStreamEvent, ReplyDeltaEvent
from core.ids import utcnow
from store import runs
from jobs.wake import Wake
from store.db import Database

DELTA_FLUSH_SECONDS = 0.05
log = logging.getLogger("campaign_chat.jobs.reporter")
STREAM_KEY = "chat"


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
    """Coalesces reply deltas for ``DELTA_FLUSH_SECONDS`` and folds every event into a compact state.

    Subclasses write a batch in :meth:`_write`; a failed write is counted, never raised into the job.
    """

    flush_interval = DELTA_FLUSH_SECONDS

    def __init__(self) -> None:
        self._state: dict[str, Any] = {"phase": "queued"}
        self._pending: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self.failures = 0
        self.dropped = 0  # batches refused because the run had already ended

    @property
    def state(self) -> dict[str, Any]:
        return dict(self._state)

    async def emit(self, event: ChatStreamEvent) -> None:
        data = msgspec.to_builtins(event)
        if isinstance(event, ReplyDeltaEvent) and self._pending and self._pending[-1]["type"] == "reply_delta":
            self._pending[-1] = {"type": "reply_delta", "text": self._pending[-1]["text"] + event.text}
        else:
            self._pending.append(data)
        if not isinstance(event, ReplyDeltaEvent) or time.monotonic() - self._last_flush >= self.flush_interval:
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._last_flush = time.monotonic()
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

    @abc.abstractmethod
    async def _write(self, batch: list[dict[str, Any]]) -> None:
        """Store or send one batch of events (and fold them into ``self._state``)."""


class RunReporter(BatchingReporter):
    """Persists a run's events; never raises into the job (a lost event must not fail a turn)."""

    def __init__(self, db: Database, run_id: str, *, wake: Wake | None = None) -> None:
        super().__init__()
        self._db = db
        self._run_id = run_id
        self._wake = wake
        self._seq = 0

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        now = utcnow()
        async with self._db.write() as conn:
            for data in batch:
                self._seq += 1
                fold(self._state, data)
                await runs.append_event(conn, run_id=self._run_id, seq=self._seq, event=data, now=now)
            if not await runs.update(conn, self._run_id, now=now, only_active=True, metadata=dict(self._state),
                                     realtime_streams=[STREAM_KEY]):
                # The run already ended (the reaper crashed it while this worker was frozen or cut
                # off): roll the events back, a dead turn's progress must not land late.
                raise _RunEnded
        await self._publish()

    async def settled(self) -> None:
        """Wake subscribers once more: the launcher has written the run's outcome (its final status)
        after the last event, and a subscriber waiting for that status must not wait for a poll."""
        try:
            await self._publish()
        except Exception:  # noqa: BLE001 - subscribers still see the outcome on their next poll
            self.failures += 1

    async def _publish(self) -> None:
        if self._wake is not None:
            await self._wake(self._run_id)
