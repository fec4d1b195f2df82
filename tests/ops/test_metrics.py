"""``/metrics``: the counters operators watch move while turns run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.ids import new_run_id, utcnow
from jobs.llm import TurnResult, Usage
from tests.models import EchoModel, HeldModel
from store import sessions as store_sessions
from tests.conftest import Api
from tests.ops.live import LiveClient


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


class PricedModel(EchoModel):
    """The offline model with a price and one validation retry per turn, like a paid provider."""

    name = "priced-test-model"

    async def chat_turn(self, ctx: Any, reporter: Any) -> TurnResult:
        result = await super().chat_turn(ctx, reporter)
        usage = Usage(input_tokens=100, output_tokens=40, requests=2, cost_usd=0.0125)
        return TurnResult(reply=result.reply, skeleton=result.skeleton, draft_subject=result.draft_subject,
                          draft_body=result.draft_body, usage=usage, retries=1)


async def test_counters_move_during_a_few_turns(api_factory: Any) -> None:
    api = await api_factory(llm=PricedModel())
    before = await scrape(api)
    session = await api.create_session()
    for message in ("first", "second", "third"):
        assert (await api.turn(session["id"], message)).status_code == 202
        await api.wait_idle(session["id"])
    after = await scrape(api)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    turn = {"task": "framework-chat-turn"}
    assert delta("campaign_chat_dispatches_total", **turn, backend="inline", outcome="accepted") == 3
    assert delta("campaign_chat_turns_total", **turn, outcome="succeeded", code="") == 3
    assert delta("campaign_chat_turn_duration_seconds_count", **turn, outcome="succeeded") == 3
    assert delta("campaign_chat_model_call_seconds_count", model="priced-test-model", call="chat_turn") == 3
    assert delta("campaign_chat_model_validation_retries_total", model="priced-test-model") == 3
    assert delta("campaign_chat_model_tokens_total", model="priced-test-model", direction="input") == 300
    assert delta("campaign_chat_model_tokens_total", model="priced-test-model", direction="output") == 120
    assert abs(delta("campaign_chat_model_cost_usd_total", model="priced-test-model") - 0.0375) < 1e-9
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
    await api.in_app(api.app.state.sessions.reap_expired)
    before = await scrape(api)
    session = await api.create_session()
    # A claim whose lease is already over stands for a worker that vanished.
    async def abandoned_claim() -> bool:
        now = utcnow()
        async with api.app.state.db.write() as conn:
            return await store_sessions.claim(conn, session_id=session["id"], user_id=api.user_id,
                                              task_status="chat_processing", run_id=new_run_id(), now=now,
                                              lease_until=now - timedelta(seconds=1), require_skeleton=False)

    assert await api.in_app(abandoned_claim)
    # The PostgreSQL database is shared by the whole pytest run: claims other tests left behind may
    # have expired by now and are reaped (and counted) too.
    reaped = await api.in_app(api.app.state.sessions.reap_expired)
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


def test_several_processes_add_up_in_multiprocess_mode(live_server_factory: Any, tmp_path: Any) -> None:
    """PROMETHEUS_MULTIPROC_DIR: a worker process's counts appear in the API's /metrics."""
    import subprocess
    import sys

    from tests.conftest import ROOT, base_env

    shared = tmp_path / "prom"
    shared.mkdir()
    server = live_server_factory(PROMETHEUS_MULTIPROC_DIR=str(shared))
    client = LiveClient(server.url, server.create_key())
    client.turn(client.create_session(), "one")
    worker = ("from ops import metrics; metrics.TURNS.labels('framework-chat-turn', 'succeeded', '').inc(5); "
              "metrics.REALTIME_SUBSCRIBERS.inc(); metrics.process_exited()")
    env = base_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(shared))
    subprocess.run([sys.executable, "-c", worker], cwd=ROOT, env=env, check=True, timeout=60)
    scrape = samples(httpx.get(f"{server.url}/metrics").text)
    labels = {"task": "framework-chat-turn", "outcome": "succeeded", "code": ""}
    assert value(scrape, "campaign_chat_turns_total", **labels) == 6
    assert value(scrape, "campaign_chat_realtime_subscribers") == 0  # the exited process's live gauge is gone
    assert value(scrape, "campaign_chat_sessions_busy") == 0
