"""The model provider misbehaves (429, 5xx, hangs, garbage): the turn fails cleanly within its deadline.

Protection proved: ``runtime.run_guarded`` — the task's deadline (``CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS``)
bounds the whole model call including the provider client's own retries, and every way out records
the reason on the run and on the session's ``last_run`` and releases the claim; ``jobs.llm_factory`` keeps
the provider client's transport retries at ``PROVIDER_MAX_RETRIES``. Verified by removing the
``asyncio.timeout`` in ``run_guarded`` (the hang then holds the session past the deadline) and by
removing the ``except JobError`` branch (429/5xx/garbage then record no reason), and by dropping
the ``max_retries`` option (the client's default 2 retries show up as a third request).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from jobs.llm_factory import PROVIDER_MAX_RETRIES
from tests.support.harness import DEADLINE_SECONDS, FAST_LEASE, provider_settings, run_row
from tests.support.provider import provider

pytestmark = pytest.mark.timeout(60)

SLACK = 1.0  # status polling on top of the deadline


@pytest.mark.parametrize(
    ("mode", "code", "says", "requests"),
    [
        ("429", "model_error", "HTTP 429", 1 + PROVIDER_MAX_RETRIES),
        ("503", "model_error", "HTTP 503", 1 + PROVIDER_MAX_RETRIES),
        ("hang", "timed_out", f"deadline ({DEADLINE_SECONDS}s)", 1),
        ("garbage", "model_error", "the model misbehaved", 1),
    ],
)
async def test_a_misbehaving_provider_fails_the_turn_within_its_deadline_with_the_reason(
    api_factory: Any, pg_url: str, caplog: pytest.LogCaptureFixture, mode: str, code: str, says: str,
    requests: int,
) -> None:
    with provider(mode) as bad:
        api = await api_factory(**FAST_LEASE, **provider_settings(bad.url))
        session = await api.create_session()
        began = time.monotonic()
        response = await api.turn(session["id"], "Intro email for restaurant owners")
        assert response.status_code == 202, response.text
        after = await api.wait_idle(session["id"], timeout=DEADLINE_SECONDS + 10)
        took = time.monotonic() - began

    assert bad.requests == requests  # the client's retries are bounded and deliberate
    assert took < DEADLINE_SECONDS + SLACK, f"the turn took {took:.1f}s against a {DEADLINE_SECONDS}s deadline"
    assert after["task_status"] is None and after["run_id"] is None  # the claim is released
    run_id = response.json()["runId"]
    assert after["last_run"]["id"] == run_id and after["last_run"]["status"] == "failed"
    error = after["last_run"]["error"]
    assert error["code"] == code and says in error["message"], error
    assert after["messages"] == [{"role": "user", "content": "Intro email for restaurant owners"}]
    run = await run_row(pg_url, run_id)
    assert run["status"] == ("TIMED_OUT" if mode == "hang" else "COMPLETED_WITH_ERRORS")
    assert run["error"]["name"] == code and run["error"]["message"] == error["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a clean failure logs no errors"
