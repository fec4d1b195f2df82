"""A session deleted while its turn runs: the session and its runs are erased, the turn ends quietly,
and nothing is resurrected.

Protection proved: DELETE erases the session, its runs and their events in one transaction
(store/erase.py); every later write of the running task is conditional on its run row or on holding
the claim (``lifecycle.end_run``, ``RunReporter``), so neither the session, nor the run, nor an event
comes back. Verified by making ``runs.finish`` insert the run when it is missing (the run row
reappears) and by letting the reporter write events without its conditional run update (events
reappear for an erased run).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.support.harness import FAST_LEASE, events_of, provider_settings, run_row, session_row, start_turn, wait_for
from tests.support.provider import provider

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("then", ["answers", "hangs past the deadline"])
async def test_a_session_deleted_mid_turn_is_erased_with_its_run_and_nothing_is_resurrected(
    api_factory: Any, pg_url: str, caplog: pytest.LogCaptureFixture, then: str
) -> None:
    with provider("held" if then == "answers" else "hang") as model:
        api = await api_factory(**FAST_LEASE, **provider_settings(model.url))
        session = await api.create_session()
        run_id = await start_turn(api, session["id"], "Intro email for restaurant owners")
        await wait_for(lambda: _requested(model), "the model request")

        deleted = await api.client.delete(f"/api/campaigns/ai-chat-sessions/{session['id']}", headers=api.headers)
        assert deleted.status_code == 200, deleted.text
        assert await run_row(pg_url, run_id) is None  # erased with its session
        if then == "answers":
            model.gate.set()
        bridge = api.app.state.container.bridge
        await wait_for(lambda: asyncio.sleep(0, bridge.running == 0), "the turn to end", timeout=10)

    assert await run_row(pg_url, run_id) is None  # nothing re-created: not the run,
    assert await events_of(pg_url, run_id) == []  # nor its events,
    assert await session_row(pg_url, session["id"]) is None  # nor the session
    gone = await api.client.get(f"/api/campaigns/ai-chat-sessions/{session['id']}", headers=api.headers)
    assert gone.status_code == 404
    listed = await api.client.get("/api/campaigns/ai-chat-sessions", params={"campaign_id": session["campaign_id"]},
                                  headers=api.headers)
    assert listed.json()["sessions"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "the turn ends quietly"


async def _requested(model: Any) -> bool:
    return model.requests >= 1


async def test_sessions_deleted_while_their_turns_start_write_and_end_are_always_erased(api: Any) -> None:
    """DELETE racing a turn at every point of its life (claim, start, event batches, end) is 200, never a
    500. On PostgreSQL it deadlocked on the end of the turn (run row then session row) while erasing
    took the session row then the runs, until erasing took them in the task's order."""
    statuses = []
    for attempt in range(40):
        session = await api.create_session()
        turn = await api.client.post(f"/api/campaigns/ai-chat-sessions/{session['id']}/turn",
                                     json={"message": "Intro for VPs of Sales"}, headers=api.headers)
        assert turn.status_code == 202, turn.text
        await asyncio.sleep((attempt % 10) * 0.003)  # spread the deletes over the turn's life
        deleted = await api.client.delete(f"/api/campaigns/ai-chat-sessions/{session['id']}", headers=api.headers)
        statuses.append(deleted.status_code)
    assert set(statuses) == {200}, statuses
