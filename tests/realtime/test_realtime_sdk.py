"""The real @trigger.dev/sdk 4.8.3, configured with only our URL and the token /turn returned,
follows local (inline) runs on a live `campaign-chat serve` backed by PostgreSQL.

To observe a run mid-flight without faking anything, a test holds ``run_events`` locked: the real
job blocks at its first progress write while the SDK is already subscribed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.realtime.realtime_helpers import EventsLock, SdkProcess, start_turn, stored_events

SECRET = "sdk-test-public-token-secret-0123456789"
ORDER = ["QUEUED", "EXECUTING", "COMPLETED"]


@pytest.fixture
def server(live_server_factory: Callable[..., Any], pg_url: str) -> Any:
    return live_server_factory(DATABASE_URL=pg_url, CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET=SECRET)


def _runs(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["kind"] == "run"]


async def test_subscribe_follows_a_turn_to_completion_with_metadata_in_order(server: Any, pg_url: str) -> None:
    key = server.create_key()
    async with httpx.AsyncClient(base_url=server.url) as client, EventsLock(pg_url) as lock:
        turn = await start_turn(client, key)
        sdk = await SdkProcess.start(server.url, turn["runId"], turn["publicAccessToken"], "subscribe")
        try:
            first = await sdk.until("run")
            assert first["status"] in ("QUEUED", "EXECUTING") and first["finishedAt"] is None
            await lock.wait_for_blocked_insert()
            await lock.release()
            lines = await sdk.finish()
        finally:
            sdk.kill()
        session = (await client.get(f"/api/campaigns/ai-chat-sessions/{turn['session_id']}",
                                    headers={"Authorization": f"Bearer {key}"})).json()["session"]

    updates = _runs(lines)
    statuses = [u["status"] for u in updates]
    assert statuses == sorted(statuses, key=ORDER.index), statuses
    assert len(updates) >= 2
    final = updates[-1]
    assert final["status"] == "COMPLETED" and final["isCompleted"] and final["finishedAt"]
    reply = session["messages"][-1]["content"]
    assert final["output"]["reply"] == reply
    assert final["metadata"]["phase"] == "done" and final["metadata"]["reply"] == reply
    phases = [u["metadata"]["phase"] for u in updates if u["metadata"]]
    expected = ["thinking", "saving", "done"]
    assert phases == sorted(phases, key=expected.index), phases
    assert lines[-1]["kind"] == "retrieve"
    retrieved = lines[-1]
    assert retrieved["status"] == "COMPLETED" and retrieved["isSuccess"] and retrieved["output"]["reply"] == reply
    assert retrieved["tags"] == [f"session:{turn['session_id']}"]


async def test_with_streams_receives_the_chat_events_in_order(server: Any, pg_url: str) -> None:
    key = server.create_key()
    async with httpx.AsyncClient(base_url=server.url) as client, EventsLock(pg_url) as lock:
        turn = await start_turn(client, key)
        sdk = await SdkProcess.start(server.url, turn["runId"], turn["publicAccessToken"], "streams")
        try:
            await sdk.until("run")
            await lock.wait_for_blocked_insert()
            await lock.release()
            lines = await sdk.finish()
        finally:
            sdk.kill()

    chunks = [line["chunk"] for line in lines if line["kind"] == "chunk"]
    assert {line["stream"] for line in lines if line["kind"] == "chunk"} == {"chat"}
    assert chunks == await stored_events(pg_url, turn["runId"])
    assert chunks[0] == {"type": "phase", "phase": "thinking"}
    assert chunks[-1] == {"type": "done", "status": "succeeded"}


async def test_a_turn_that_fails_ends_failed_with_its_error(live_server_factory: Callable[..., Any], pg_url: str) -> None:
    server = live_server_factory(DATABASE_URL=pg_url, CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET=SECRET,
                                 CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS="1")
    key = server.create_key()
    async with httpx.AsyncClient(base_url=server.url) as client, EventsLock(pg_url) as lock:
        turn = await start_turn(client, key)
        sdk = await SdkProcess.start(server.url, turn["runId"], turn["publicAccessToken"], "subscribe")
        try:
            stuck = await lock.wait_for_blocked_insert()
            await sdk.until("run")
            # The deadline passes while the job is stuck; its failure write is the next insert to queue up.
            await lock.wait_for_new_blocked_insert(stuck)
            await lock.release()
            lines = await sdk.finish()
        finally:
            sdk.kill()

    final = _runs(lines)[-1]
    assert final["status"] == "TIMED_OUT" and final["isFailed"] and final["finishedAt"]
    assert "deadline" in final["error"]["message"] and final["error"]["name"] == "timed_out"
    retrieved = lines[-1]
    assert retrieved["kind"] == "retrieve" and retrieved["isFailed"] and "deadline" in retrieved["error"]["message"]


async def test_cancel_stops_a_running_turn_and_frees_the_session(server: Any, pg_url: str) -> None:
    key = server.create_key()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.url) as client, EventsLock(pg_url) as lock:
        turn = await start_turn(client, key)
        stuck = await lock.wait_for_blocked_insert()
        sdk = await SdkProcess.start(server.url, turn["runId"], turn["publicAccessToken"], "cancel", CANCEL_TOKEN=key)
        try:
            await sdk.until("canceling")
            await lock.wait_for_new_blocked_insert(stuck)  # the cancelled job is recording its outcome
            await lock.release()
            canceled = await sdk.until("canceled")
            lines = await sdk.finish()
        finally:
            sdk.kill()
        session = (await client.get(f"/api/campaigns/ai-chat-sessions/{turn['session_id']}",
                                    headers=headers)).json()["session"]

    assert canceled["result"] == {"id": turn["runId"]}
    final = _runs(lines)[-1]
    assert final["status"] == "CANCELED" and final["isCancelled"] and final["finishedAt"]
    assert lines[-1]["status"] == "CANCELED" and lines[-1]["isCancelled"]
    assert session["task_status"] is None and session["run_id"] is None
    assert session["last_run"]["status"] == "canceled" and session["last_run"]["id"] == turn["runId"]
    assert [m["role"] for m in session["messages"]] == ["user"]  # no reply was written


async def test_a_token_for_another_run_is_refused(server: Any) -> None:
    key = server.create_key()
    async with httpx.AsyncClient(base_url=server.url) as client:
        mine = await start_turn(client, key)
        other = await start_turn(client, key)
    sdk = await SdkProcess.start(server.url, mine["runId"], other["publicAccessToken"], "denied")
    try:
        lines = await sdk.finish()
    finally:
        sdk.kill()
    retrieve, cancel = lines
    assert retrieve["kind"] == "retrieve-error" and not retrieve["ok"] and retrieve["status"] == 403
    assert cancel["kind"] == "cancel-error" and not cancel["ok"] and cancel["status"] == 403


async def test_two_api_instances_serve_the_same_run(live_server_factory: Callable[..., Any], pg_url: str) -> None:
    first = live_server_factory(DATABASE_URL=pg_url, CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET=SECRET)
    second = live_server_factory(DATABASE_URL=pg_url, CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET=SECRET)
    key = first.create_key()
    async with httpx.AsyncClient(base_url=first.url) as client, EventsLock(pg_url) as lock:
        turn = await start_turn(client, key)
        # The frontend's realtime requests land on the other instance (a load balancer's choice).
        sdk = await SdkProcess.start(second.url, turn["runId"], turn["publicAccessToken"], "streams")
        try:
            await sdk.until("run")
            await lock.wait_for_blocked_insert()
            await lock.release()
            lines = await sdk.finish()
        finally:
            sdk.kill()
    chunks = [line["chunk"] for line in lines if line["kind"] == "chunk"]
    assert chunks == await stored_events(pg_url, turn["runId"])
    assert chunks[-1] == {"type": "done", "status": "succeeded"}
