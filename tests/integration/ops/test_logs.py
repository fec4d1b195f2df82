"""Structured logs of a live server: secrets never appear, one turn's lines are found by its run id."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.live import LiveClient, json_lines, wait_for_log

MESSAGE = "Our zygomorphic-orchid-7731 launch targets Quetzalcoatl Dynamics buyers"
LEADS = [
    {"first_name": "Philippa", "last_name": "Vanderwoude", "email": "philippa.vdw@hyperion-marmalade.test",
     "company": "Hyperion Marmalade", "custom_fields": {"pet": "axolotl-named-Bartholomew"}},
    {"first_name": "Thaddeus", "last_name": "Okonkwo-Lindqvist", "email": "thaddeus@obsidian-tangerine.test",
     "company": "Obsidian Tangerine"},
]
LEAD_DATA = ["Philippa", "Vanderwoude", "hyperion-marmalade", "Hyperion Marmalade", "axolotl-named-Bartholomew",
             "Thaddeus", "Okonkwo-Lindqvist", "obsidian-tangerine", "Obsidian Tangerine"]


def test_a_full_scenario_logs_ids_but_never_keys_tokens_messages_or_lead_data(live_server_factory: Any) -> None:
    server = live_server_factory()
    key = server.create_key()
    client = LiveClient(server.url, key)
    session_id = client.create_session()
    first = client.turn(session_id, MESSAGE, sampleLeads=LEADS)
    second = client.turn(session_id, MESSAGE + " with a second, sharper angle", sampleLeads=LEADS)
    examples = client.start(session_id, "generate-examples", {"leads": LEADS, "isFirstBatch": True})
    done = client.wait_idle(session_id)
    assert [e["status"] for e in done["generated_examples"]] == ["ok", "ok"]
    bad_key = "cc_live_" + "not-a-real-key-" + "x" * 30
    rejected = httpx.get(f"{server.url}/api/campaigns/ai-chat-sessions/{session_id}",
                         headers={"Authorization": f"Bearer {bad_key}", "X-Request-Id": key})
    assert rejected.status_code == 401
    wait_for_log(server, lambda r: r.get("run_id") == examples["runId"] and r["event"] == "turn finished")
    # The access line is written once the response has gone out, so it may trail the client's view of it.
    wait_for_log(server, lambda r: r.get("status") == 401 and r["event"] == "request")

    logs = server.logs()
    secrets = [key, bad_key, MESSAGE, "zygomorphic-orchid", "Quetzalcoatl", *LEAD_DATA]
    secrets += [run["publicAccessToken"] for run in (first, second, examples)]
    leaked = [s for s in secrets if s in logs]
    assert leaked == [], f"secrets found in the server's logs: {leaked}"
    assert session_id in logs
    for run in (first, second, examples):
        assert run["runId"] in logs
    json_lines(logs)  # every line is structured


def test_one_turns_log_lines_are_found_by_its_run_id(live_server_factory: Any) -> None:
    server = live_server_factory()
    client = LiveClient(server.url, server.create_key())
    session_id = client.create_session()
    run_id = client.turn(session_id, "Write an intro email")["runId"]
    records = wait_for_log(server, lambda r: r.get("run_id") == run_id and r["event"] == "turn finished")

    mine = [r for r in records if r.get("run_id") == run_id]
    events = [r["event"] for r in mine]
    # One line for the POST that started it (the access line, with the run's ids) and the run's own lines,
    # written by the embedded worker process (so the two may interleave either way).
    assert "request" in events and events.index("turn started") < events.index("turn finished")
    assert "task dispatched" not in events  # detail, at DEBUG
    finished = next(r for r in mine if r["event"] == "turn finished")
    assert finished["outcome"] == "succeeded"
    assert finished["task"] == "framework-chat-turn" and finished["backend"] == "inline"
    assert finished["session_id"] == session_id
    assert finished["input_tokens"] > 0 and finished["output_tokens"] > 0 and "cost_usd" in finished
    assert finished["duration_s"] >= 0
    request_ids = {r["request_id"] for r in mine}
    assert len(request_ids) == 1  # the job's lines carry the request that dispatched it
