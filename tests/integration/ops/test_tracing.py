"""Traces: one trace from the POST through claim, dispatch and job to the model call; nothing when off."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import ROOT, base_env
from tests.support.live import LiveClient


class Collector:
    """A minimal OTLP/HTTP trace receiver (protobuf), standing in for the collector operators run."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append({"name": span.name, "trace": span.trace_id.hex(),
                                                    "id": span.span_id.hex(), "parent": span.parent_span_id.hex()})
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, name: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for span in list(self.spans):
                if span["name"] == name:
                    return span
            time.sleep(0.05)
        raise AssertionError(f"no span {name!r}; got {[s['name'] for s in self.spans]}")


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.server.shutdown()


def test_one_trace_spans_a_turn_from_post_to_the_model_call(live_server_factory: Any, collector: Collector,
                                                             tmp_path: Path) -> None:
    server = live_server_factory(CAMPAIGN_CHAT_OTLP_ENDPOINT=collector.url)
    client = LiveClient(server.url, server.create_key())
    session_id = client.create_session()
    run_id = client.turn(session_id, "Write an intro email")["runId"]

    model = collector.wait_for("model chat_turn")
    job = collector.wait_for("job framework-chat-turn")
    post = collector.wait_for("POST /api/campaigns/ai-chat-sessions/{session_id}/turn")
    claim = collector.wait_for("claim")
    dispatch = collector.wait_for("dispatch")
    assert {s["trace"] for s in (model, job, post, claim, dispatch)} == {post["trace"]}
    assert model["parent"] == job["id"]
    assert claim["parent"] == post["id"] and dispatch["parent"] == post["id"]
    # The context travels inside the task payload: what an ARQ worker or Trigger.dev continues from.
    with sqlite3.connect(tmp_path / "data" / "campaign-chat.db") as db:
        payload = json.loads(db.execute("select payload from runs where id = ?", (run_id,)).fetchone()[0])
    assert payload["trace"]["traceparent"].split("-")[1] == post["trace"]


def test_tracing_off_loads_no_sdk_or_exporter_and_injects_nothing(tmp_path: Path) -> None:
    script = """
import sys
from litestar.testing import TestClient
from api.app import create_app
from core.settings import Settings
from ops.process import configure_process
from store import keys

settings = Settings.from_env()
configure_process(settings)
with TestClient(create_app(settings)) as client:
    key = client.blocking_portal.call(lambda: _key(client))
    headers = {"Authorization": "Bearer " + key}
    body = {"campaign_id": "6a1c3a8e-4f1e-4c57-9d43-0c6e1f0a1111", "node_id": "6a1c3a8e-4f1e-4c57-9d43-0c6e1f0a2222"}
    sid = client.post("/api/campaigns/ai-chat-sessions", json=body, headers=headers).json()["session"]["id"]
    assert client.post(f"/api/campaigns/ai-chat-sessions/{sid}/turn", json={"message": "hi"}, headers=headers).status_code == 202
# The API package may come in with other libraries (pydantic-ai instruments with it); the SDK and exporter are ours.
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter")))
from ops import tracing
assert not tracing.enabled() and tracing.inject() is None
print("LOADED:" + ",".join(loaded))
"""
    prelude = """
async def _key(client):
    from core.ids import utcnow
    async with client.app.state.container.db.write() as conn:
        return (await keys.create(conn, user_id=None, label="t", now=utcnow())).key
"""
    body = script.replace("settings = Settings", prelude + "\nsettings = Settings", 1)
    result = subprocess.run([sys.executable, "-c", body], cwd=ROOT, env=base_env(tmp_path), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "LOADED:\n" in result.stdout  # nothing loaded, though the SDK is installed in this environment
    import importlib.util

    assert importlib.util.find_spec("opentelemetry.sdk") is not None
