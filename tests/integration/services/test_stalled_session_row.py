"""A dispatch on a session whose row a stalled transaction holds (PostgreSQL).

A worker frozen inside a transaction (a GC pause, a paused VM, SIGSTOP) keeps the session's row lock until
PostgreSQL ends that transaction (``idle_in_transaction_session_timeout``, one lease). ``POST …/turn`` used to
wait that long for the row; it now answers ``409 session_busy`` after ``ROW_LOCK_WAIT_MS``, with or without an
``Idempotency-Key`` (whose record is not kept), and the session takes a turn as soon as the lock is gone.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from store.db import ROW_LOCK_WAIT_MS

BASE = "/api/campaigns/ai-chat-sessions"


@pytest.fixture(params=["postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("pg_url")


@pytest.mark.parametrize("key", [None, "stalled-1"])
async def test_a_turn_on_a_row_held_by_a_stalled_transaction_is_busy_at_once(api_factory: Any, key: str | None) -> None:
    api = await api_factory()
    session = await api.create_session()
    headers = api.headers if key is None else {**api.headers, "Idempotency-Key": key}
    url = f"{BASE}/{session['id']}/turn"
    holder = await api.app.state.container.db.engine.connect()
    try:
        await holder.begin()
        await holder.exec_driver_sql("SELECT 1 FROM chat_sessions WHERE id = $1 FOR UPDATE", (session["id"],))
        began = time.monotonic()
        refused = await api.client.post(url, json={"message": "Write an intro email"}, headers=headers)
        waited = time.monotonic() - began
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "session_busy"
        assert waited < ROW_LOCK_WAIT_MS / 1000 + 2, waited
    finally:
        await holder.close()
    accepted = await api.client.post(url, json={"message": "Write an intro email"}, headers=headers)
    assert accepted.status_code == 202, accepted.text  # the refused key was not kept: this is a first answer
    done = await api.wait_idle(session["id"])
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]
