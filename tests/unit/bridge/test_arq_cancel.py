"""The ARQ job function's cancellation handler, without Redis: what it awaits after a cancel must run
as in any task. On Python 3.11.0-3.11.2 an ``asyncio.timeout`` that expires inside a task with a
pending cancel request raises ``CancelledError`` (redis-py's zero-second read probe does exactly that
before each command), so the handler asked Redis "was this a cancel?", died, and never stopped the job.
The fake Redis below refuses to be called with a cancel request pending, on every Python.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridge import arq_worker
from core.settings import Settings
from core.status import RunStatus
from jobs.guard import Outcome, RunHandle, StopReason


class ProbingRedis:
    """``exists`` as redis-py runs it: a zero-second timeout probe first, which must end in TimeoutError."""

    def __init__(self, marked: set[str]) -> None:
        self.marked = marked
        self.pending_cancels: list[int] = []

    async def exists(self, key: str) -> int:
        task = asyncio.current_task()
        assert task is not None
        self.pending_cancels.append(task.cancelling())
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(1)
        except TimeoutError:
            pass
        return int(key in self.marked)


class FakeDeps:
    settings = Settings(arq_queue_name="q")


@pytest.mark.parametrize("marked, expected", [(True, StopReason.CANCELED), (False, StopReason.INTERRUPTED)])
async def test_a_cancelled_job_is_told_why_and_recorded_before_the_cancellation_goes_on(
        monkeypatch: pytest.MonkeyPatch, marked: bool, expected: StopReason) -> None:
    running = asyncio.Event()
    seen: dict[str, Any] = {}

    async def fake_execute_raw(deps: Any, raw: Any, *, handle: RunHandle) -> Outcome:
        current = asyncio.current_task()
        assert current is not None
        handle.attach(current)
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen["reason"] = handle.reason
        return Outcome(ran=True, status=RunStatus.CANCELED)

    monkeypatch.setattr(arq_worker, "execute_raw", fake_execute_raw)
    run_id = "run_abc"
    redis = ProbingRedis(set())
    ctx = {"deps": FakeDeps(), "redis": redis, "running": set()}
    raw = {"schema_version": 1, "task": "framework-chat-turn", "run_id": run_id, "session_id": "s"}

    job = asyncio.create_task(arq_worker.run_task(ctx, raw))
    await asyncio.wait_for(running.wait(), 5)
    if marked:  # what the API's cancel sets before it aborts the job
        redis.marked.add(arq_worker.cancel_mark_key("q", run_id))
    job.cancel()  # what ARQ does on abort, and after the shutdown grace
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(job, 5)

    assert seen.get("reason") is expected  # the job was stopped, with the right reason, before run_task ended
    assert redis.pending_cancels == [0, 0]  # Redis was asked with no cancel request pending
    assert ctx["running"] == set()
