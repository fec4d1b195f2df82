"""A small synchronous client for scenarios against a live ``campaign-chat serve``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

SESSIONS = "/api/campaigns/ai-chat-sessions"


class LiveClient:
    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    def create_session(self) -> str:
        body = {"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4())}
        response = self.http.post(SESSIONS, json=body)
        assert response.status_code == 201, response.text
        return response.json()["session"]["id"]

    def start(self, session_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{SESSIONS}/{session_id}/{action}", json=body)
        assert response.status_code == 202, response.text
        return response.json()

    def wait_idle(self, session_id: str, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            session = self.http.get(f"{SESSIONS}/{session_id}").json()["session"]
            if session["task_status"] is None:
                return session
            assert time.monotonic() < deadline, f"session still busy: {session['task_status']}"
            time.sleep(0.05)

    def turn(self, session_id: str, message: str, **extra: Any) -> dict[str, Any]:
        accepted = self.start(session_id, "turn", {"message": message, **extra})
        self.wait_idle(session_id)
        return accepted


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every log line must be one JSON object (CAMPAIGN_CHAT_LOG_FORMAT=json)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def wait_for_log(server: Any, predicate: Any, timeout: float = 5) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = json_lines(server.logs())
        if any(predicate(r) for r in records):
            return records
        assert time.monotonic() < deadline, "expected log line never appeared"
        time.sleep(0.05)
