"""jobs.trigger_entry: what the Trigger.dev tasks run. Same job code, progress to the run's metadata.

Trigger.dev is faked by a local HTTP server (trigger route + run-metadata route); the Python entry
module runs as a real subprocess against the test's real database, exactly as ``python.run`` starts it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, base_env
from store import runs
from store.db import Database

SECRET = "tr_dev_entry_0123456789abcdef"


class FakeTrigger:
    def __init__(self) -> None:
        self.triggered: list[dict[str, Any]] = []
        self.metadata: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def do_POST(self) -> None:  # noqa: N802 - the trigger route
                fake.triggered.append(self._body())
                run_id = f"run_{uuid.uuid4().hex[:24]}"
                self._reply(200, {"id": run_id, "isCached": False},
                            {"x-trigger-jwt-claims": json.dumps({"sub": "env_x", "pub": True, "scopes": []})})

            def do_PUT(self) -> None:  # noqa: N802 - PUT /api/v1/runs/{runId}/metadata
                fake.metadata.append({"path": self.path, "auth": self.headers["Authorization"], "body": self._body()})
                self._reply(200, {"metadata": {}})

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake() -> Iterator[FakeTrigger]:
    server = FakeTrigger()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def merge_deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "reply_delta" and out and out[-1]["type"] == "reply_delta":
            out[-1] = {"type": "reply_delta", "text": out[-1]["text"] + event["text"]}
        else:
            out.append(dict(event))
    return out


def run_entry(tmp_path: Path, payload: dict[str, Any], *, database_url: str, trigger_run_id: str, url: str) -> dict:
    path = tmp_path / f"payload-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(payload))
    env = base_env(tmp_path, DATABASE_URL=database_url, TRIGGER_RUN_ID=trigger_run_id, TRIGGER_SECRET_KEY=SECRET,
                   TRIGGER_API_URL=url)
    result = subprocess.run([sys.executable, "-m", "jobs.trigger_entry", str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_a_triggered_turn_runs_the_job_and_reports_to_its_run_metadata(api_factory, fake, settings, tmp_path) -> None:
    api = await api_factory(task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=SECRET)
    session = await api.create_session()
    response = await api.turn(session["id"], "We sell payroll software to restaurants",
                              availableVarNames=["first_name"])
    assert response.status_code == 202, response.text
    trigger_run_id = response.json()["runId"]
    payload = fake.triggered[-1]["payload"]

    assert run_entry(tmp_path, payload, database_url=settings.database_url, trigger_run_id=trigger_run_id,
                     url=fake.url) == {"ran": True}

    done = await api.get_session(session["id"])
    assert done["task_status"] is None
    assert done["last_run"]["id"] == trigger_run_id and done["last_run"]["status"] == "succeeded"
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]

    assert {m["path"] for m in fake.metadata} == {f"/api/v1/runs/{trigger_run_id}/metadata"}
    assert {m["auth"] for m in fake.metadata} == {f"Bearer {SECRET}"}
    operations = [op for m in fake.metadata for op in m["body"]["operations"]]
    streamed = [op["value"] for op in operations if op["type"] == "append" and op["key"] == "chat"]
    db = Database(settings.database_url)
    try:
        async with db.read() as conn:
            stored = [row["event"] for row in await runs.events_after(conn, run_id=payload["run_id"], after_seq=0)]
    finally:
        await db.dispose()
    # Trigger.dev subscribers see the events local subscribers see (reply deltas may be batched differently).
    assert merge_deltas(streamed) == merge_deltas(stored)
    assert streamed[-1] == {"type": "done", "status": "succeeded"}
    final_state = {op["key"]: op["value"] for op in operations if op["type"] == "set"}
    assert final_state["phase"] == "done" and final_state["status"] == "succeeded"
    assert final_state["reply"].strip() == done["messages"][-1]["content"].strip()

    # A Trigger.dev retry of the same run finds it started and changes nothing.
    assert run_entry(tmp_path, payload, database_url=settings.database_url, trigger_run_id=trigger_run_id,
                     url=fake.url) == {"ran": False}
    assert await api.get_session(session["id"]) == done


async def test_inline_and_trigger_entry_produce_the_same_session(api_factory, fake, settings, tmp_path) -> None:
    inline = await api_factory()
    triggered = await api_factory(task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=SECRET)
    results = []
    for api in (inline, triggered):
        session = await api.create_session()
        response = await api.turn(session["id"], "We sell payroll software to restaurants")
        assert response.status_code == 202
        if api is triggered:
            run_entry(tmp_path, fake.triggered[-1]["payload"], database_url=settings.database_url,
                      trigger_run_id=response.json()["runId"], url=fake.url)
        results.append(await api.wait_idle(session["id"], timeout=30))
    ignored = {"id", "user_id", "campaign_id", "node_id", "created_at", "updated_at", "run_id"}

    def comparable(s: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in s.items() if k not in ignored}
        out["last_run"] = {k: v for k, v in out["last_run"].items() if k not in ("id", "finished_at")}
        return out

    assert comparable(results[0]) == comparable(results[1])


def test_the_entry_refuses_to_run_without_its_environment(tmp_path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{}")
    env = base_env(tmp_path)
    env.pop("TRIGGER_RUN_ID", None)
    result = subprocess.run([sys.executable, "-m", "jobs.trigger_entry", str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "missing environment: TRIGGER_RUN_ID" in result.stderr
