"""A session deleted while its turn runs: the turn ends quietly and nothing is resurrected.

Protection proved: ``runtime.succeed``/``runtime.fail`` write the session only while the run still
holds its claim (a deleted row is never re-created or updated) and, when the session is gone, end the
run CANCELED with ``session_deleted`` in the same committed transaction, then stop quietly
(``ClaimLost``, swallowed by ``run_guarded``). Verified by treating "not held" as success in
``succeed`` (the run then ends COMPLETED_SUCCESSFULLY for a session that no longer exists) and by
raising ``ClaimLost`` inside the transaction again (the outcome is rolled back; the run stays EXECUTING).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from core.status import TERMINAL_STATUSES
from tests.support.harness import FAST_LEASE, provider_settings, run_row, session_row, start_turn, wait_for, wait_run_status
from tests.support.provider import provider

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("then", ["answers", "hangs past the deadline"])
async def test_a_session_deleted_mid_turn_ends_the_run_canceled_and_is_not_resurrected(
    api_factory: Any, pg_url: str, caplog: pytest.LogCaptureFixture, then: str
) -> None:
    with provider("held" if then == "answers" else "hang") as model:
        api = await api_factory(**FAST_LEASE, **provider_settings(model.url))
        session = await api.create_session()
        run_id = await start_turn(api, session["id"], "Intro email for restaurant owners")
        await wait_for(lambda: _requested(model), "the model request")

        deleted = await api.client.delete(f"/api/campaigns/ai-chat-sessions/{session['id']}", headers=api.headers)
        assert deleted.status_code == 200, deleted.text
        if then == "answers":
            model.gate.set()
        run = await wait_run_status(pg_url, run_id, *TERMINAL_STATUSES, timeout=10)

    assert (run["status"], run["error"]["name"]) == ("CANCELED", "session_deleted")
    assert await session_row(pg_url, session["id"]) is None  # nothing re-created
    gone = await api.client.get(f"/api/campaigns/ai-chat-sessions/{session['id']}", headers=api.headers)
    assert gone.status_code == 404
    listed = await api.client.get("/api/campaigns/ai-chat-sessions", params={"campaign_id": session["campaign_id"]},
                                  headers=api.headers)
    assert listed.json()["sessions"] == []
    assert (await run_row(pg_url, run_id))["version"] == run["version"]  # and nothing written after the end
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "the turn ends quietly"


async def _requested(model: Any) -> bool:
    return model.requests >= 1
