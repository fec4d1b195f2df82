"""``/metrics``: the counters operators watch move while real turns run.

Turns go through the real OpenAI provider code against a local stub of the provider's HTTP API
(which reports token usage like the real one, and is answered with one rejected output per turn),
so the counters are checked against what the service itself recorded, not against a fake layer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

import pytest
from pydantic_ai.models import override_allow_model_requests

from core.ids import new_run_id, utcnow
from core.settings import Settings
from store import runs as store_runs, sessions as store_sessions
from tests.conftest import Api
from tests.support.openai_stub import openai_stub
from tests.support.scripted import run_row, turn
from tests.integration.jobs.test_openai_provider import answer, openai_llm
from tests.support.models import HeldModel
from tests.support.live import LiveClient


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(api: Api) -> dict[Any, float]:
    response = await api.client.get("/metrics", headers=api.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_counters_move_during_a_few_turns(api_factory: Any, settings: Settings,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with openai_stub(answer) as stub, override_allow_model_requests(True):
        api = await api_factory(llm=openai_llm(settings, stub.url, monkeypatch))
        before = await scrape(api)
        session = await api.create_session()
        run_ids = []
        for message in ("first", "second", "third"):
            run_id, _ = await turn(api, session["id"], message, availableVarNames=["first_name", "company"])
            run_ids.append(run_id)
        after = await scrape(api)
    stored = [(await run_row(api, run_id))["usage"] for run_id in run_ids]

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    model = "openai:gpt-4o-mini"
    turn_labels = {"task": "framework-chat-turn"}
    assert delta("campaign_chat_dispatches_total", **turn_labels, backend="inline", outcome="accepted") == 3
    assert delta("campaign_chat_turns_total", **turn_labels, outcome="succeeded", code="") == 3
    assert delta("campaign_chat_turn_duration_seconds_count", **turn_labels, outcome="succeeded") == 3
    assert delta("campaign_chat_model_call_seconds_count", model=model, call="chat_turn") == 3
    assert delta("campaign_chat_model_validation_retries_total", model=model) == 3  # one rejected output each
    assert len(stub.seen) == 6  # two provider requests per turn: the rejected output and its retry
    assert delta("campaign_chat_model_tokens_total", model=model, direction="input") == sum(
        u["input_tokens"] for u in stored) > 0
    assert delta("campaign_chat_model_tokens_total", model=model, direction="output") == sum(
        u["output_tokens"] for u in stored) > 0
    assert abs(delta("campaign_chat_model_cost_usd_total", model=model) - sum(u["cost_usd"] for u in stored)) < 1e-9
    assert sum(u["cost_usd"] for u in stored) > 0
    route = "/api/campaigns/ai-chat-sessions/{session_id}/turn"
    assert delta("campaign_chat_http_requests_total", route=route, method="POST", status="202") == 3


async def test_busy_sessions_and_claim_conflicts_are_visible(api_factory: Any) -> None:
    model = HeldModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    before = await scrape(api)
    assert (await api.turn(session["id"])).status_code == 202
    assert (await api.turn(session["id"])).status_code == 409
    during = await scrape(api)
    assert value(during, "campaign_chat_sessions_busy") >= 1
    assert (value(during, "campaign_chat_dispatches_total", task="framework-chat-turn", backend="inline",
                  outcome="busy")
            - value(before, "campaign_chat_dispatches_total", task="framework-chat-turn", backend="inline",
                    outcome="busy")) == 1
    await api.in_app(model.finish)  # on the app's loop, where the turn waits
    await api.wait_idle(session["id"])
    assert value(await scrape(api), "campaign_chat_sessions_busy") == value(during, "campaign_chat_sessions_busy") - 1


async def test_lease_takeovers_are_counted(api: Api) -> None:
    # The run's PostgreSQL database is shared: first sweep leases that earlier tests' sessions let run out.
    await api.in_app(api.app.state.container.reaper.sweep)
    before = await scrape(api)
    session = await api.create_session()
    # A claim whose lease is already over stands for a worker that vanished.
    async def abandoned_claim() -> bool:
        now, run_id = utcnow(), new_run_id()
        claim = store_sessions.ClaimRequest(session_id=session["id"], user_id=api.user_id,
                                            task_status="chat_processing", run_id=run_id, now=now,
                                            lease_until=now - timedelta(seconds=1), require_skeleton=False)
        values = store_runs.new_run_values(run_id=run_id, session_id=session["id"], user_id=api.user_id,
                                           task="framework-chat-turn", backend="arq", payload={}, tags=[], now=now)
        return (await store_sessions.claim_and_record(api.app.state.container.db, claim, values)).won

    assert await api.in_app(abandoned_claim)
    # The PostgreSQL database is shared by the whole pytest run: claims other tests left behind may
    # have expired by now and are reaped (and counted) too.
    reaped = await api.in_app(api.app.state.container.reaper.sweep)
    assert reaped >= 1 and (await api.get_session(session["id"]))["task_status"] is None
    after = await scrape(api)
    assert value(after, "campaign_chat_lease_takeovers_total") - value(before, "campaign_chat_lease_takeovers_total") == reaped


async def test_metrics_need_a_key_unless_served_on_a_private_address(api: Api, live_server_factory: Any) -> None:
    # The in-process client reaches the app as "testserver.local": not a private address.
    assert (await api.client.get("/metrics")).status_code == 401
    server = live_server_factory()  # bound to 127.0.0.1
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert "campaign_chat_realtime_subscribers" in response.text


async def test_metrics_can_be_turned_off(api_factory: Any) -> None:
    api = await api_factory(metrics_enabled=False)
    assert (await api.client.get("/metrics", headers=api.headers)).status_code == 404


def test_a_live_server_counts_turns_between_two_scrapes(live_server_factory: Any) -> None:
    server = live_server_factory()
    client = LiveClient(server.url, server.create_key())
    before = samples(httpx.get(f"{server.url}/metrics").text)
    session_id = client.create_session()
    client.turn(session_id, "one")
    client.turn(session_id, "two")
    after = samples(httpx.get(f"{server.url}/metrics").text)
    labels = {"task": "framework-chat-turn", "outcome": "succeeded", "code": ""}
    assert value(after, "campaign_chat_turns_total", **labels) - value(before, "campaign_chat_turns_total", **labels) == 2


def test_metrics_on_their_own_port_leave_the_api_port(live_server_factory: Any) -> None:
    from tests.conftest import free_port

    port = free_port()
    server = live_server_factory(CAMPAIGN_CHAT_METRICS_PORT=str(port))
    client = LiveClient(server.url, server.create_key())
    client.turn(client.create_session(), "one")
    assert httpx.get(f"{server.url}/metrics").status_code == 404
    scraped = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert scraped.status_code == 200
    labels = {"task": "framework-chat-turn", "outcome": "succeeded", "code": ""}
    assert value(samples(scraped.text), "campaign_chat_turns_total", **labels) == 1
    assert httpx.get(f"http://127.0.0.1:{port}/other").status_code == 404


async def test_several_processes_add_up_in_multiprocess_mode(live_server_factory: Any, tmp_path: Any,
                                                              redis_url: str, pg_url: str) -> None:
    """PROMETHEUS_MULTIPROC_DIR: the turns a real ARQ worker process ran appear in the API's /metrics,
    and the worker's live gauges go when it exits."""
    from tests.support.workers import WorkerPool

    shared = tmp_path / "prom"
    shared.mkdir()
    workers = WorkerPool(tmp_path=tmp_path, redis_url=redis_url, database_url=pg_url)
    worker = await workers.start(PROMETHEUS_MULTIPROC_DIR=str(shared))
    try:
        server = live_server_factory(**workers.env(PROMETHEUS_MULTIPROC_DIR=str(shared)))
        client = LiveClient(server.url, server.create_key())
        session_id = client.create_session()
        client.turn(session_id, "one")
        client.turn(session_id, "two")
        labels = {"task": "framework-chat-turn", "outcome": "succeeded", "code": ""}
        scrape = samples(httpx.get(f"{server.url}/metrics").text)
        assert value(scrape, "campaign_chat_turns_total", **labels) == 2  # counted by the worker process
        assert value(scrape, "campaign_chat_dispatches_total", task="framework-chat-turn", backend="arq",
                     outcome="accepted") == 2  # counted by the API process
    finally:
        assert worker.terminate() == 0
        await workers.cleanup([])
    after = samples(httpx.get(f"{server.url}/metrics").text)
    assert value(after, "campaign_chat_turns_total", **labels) == 2  # counters outlive the process
    assert value(after, "campaign_chat_realtime_subscribers") == 0
