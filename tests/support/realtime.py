"""Helpers for the realtime tests: drive the real SDK in Node, start turns, hold a job at a DB lock."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx


ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "node-checks"


def ensure_node_checks() -> None:
    """Install the pinned SDK (npm ci from the lockfile) when the test suite was run without scripts/test.sh."""
    if not (NODE_DIR / "node_modules" / "@trigger.dev" / "sdk").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "node-setup.sh")], check=True, timeout=300)


class SdkProcess:
    """``node realtime-check.mjs`` with a mode; read its JSON lines one at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, base_url: str, run_id: str, token: str, mode: str, **env: str) -> SdkProcess:
        ensure_node_checks()
        full_env = {**os.environ, "BASE_URL": base_url, "RUN_ID": run_id, "PUBLIC_TOKEN": token, "MODE": mode, **env}
        proc = await asyncio.create_subprocess_exec(
            "node", "realtime-check.mjs", cwd=NODE_DIR, env=full_env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def next(self, timeout: float = 20.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            stderr = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"SDK check exited ({await self.proc.wait()}): {stderr.decode()}")
        line = json.loads(raw)
        self.lines.append(line)
        return line

    async def until(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        while True:
            line = await self.next(timeout)
            if line["kind"] == kind:
                return line
            assert line["kind"] != "timeout", f"SDK check timed out; saw {self.lines}"

    async def finish(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        while True:
            try:
                await self.next(timeout)
            except AssertionError:
                break
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        assert code == 0, f"SDK check exited {code}: {self.lines}"
        return self.lines

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


async def start_turn(client: httpx.AsyncClient, key: str, message: str = "Write an intro email") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    created = await client.post("/api/campaigns/ai-chat-sessions", headers=headers,
                                json={"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    session_id = created.json()["session"]["id"]
    turn = await client.post(f"/api/campaigns/ai-chat-sessions/{session_id}/turn", headers=headers,
                             json={"message": message})
    assert turn.status_code == 202, turn.text
    return {"session_id": session_id, **turn.json()}


def pg_dsn(database_url: str) -> str:
    return "postgresql://" + database_url.split("://", 1)[1]


class EventsLock:
    """Hold ``run_events`` in EXCLUSIVE mode: a real job blocks at its first progress write, mid-run.

    Reads stay allowed, so subscribers keep working; nothing in the service is faked.
    """

    def __init__(self, database_url: str) -> None:
        self._dsn = pg_dsn(database_url)
        self._conn: Any = None
        self._tx: Any = None

    async def __aenter__(self) -> EventsLock:
        self._conn = await asyncpg.connect(self._dsn)
        self._tx = self._conn.transaction()
        await self._tx.start()
        await self._conn.execute("LOCK TABLE run_events IN EXCLUSIVE MODE")
        return self

    async def release(self) -> None:
        if self._tx is not None:
            await self._tx.rollback()
            self._tx = None

    async def __aexit__(self, *exc: Any) -> None:
        await self.release()
        await self._conn.close()

    async def wait_for_new_blocked_insert(self, since: Any, timeout: float = 15.0) -> Any:
        """Until a run_events INSERT that started after ``since`` waits on this lock; its start time."""
        probe = await asyncpg.connect(self._dsn)
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                started = await probe.fetchval(
                    "SELECT max(query_start) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO run_events%' AND query_start > $1",
                    since,
                )
                if started is not None:
                    return started
                assert asyncio.get_running_loop().time() < deadline, "the job never reached its next write"
                await asyncio.sleep(0.02)
        finally:
            await probe.close()

    async def wait_for_blocked_insert(self, timeout: float = 15.0) -> Any:
        from datetime import UTC, datetime

        return await self.wait_for_new_blocked_insert(datetime(1970, 1, 1, tzinfo=UTC), timeout)


async def stored_events(database_url: str, run_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(pg_dsn(database_url))
    try:
        rows = await conn.fetch("SELECT event FROM run_events WHERE run_id = $1 ORDER BY seq", run_id)
    finally:
        await conn.close()
    return [json.loads(r["event"]) if isinstance(r["event"], str) else r["event"] for r in rows]


def merge_deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat events with consecutive reply deltas joined: backends may batch the reply differently."""
    out: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "reply_delta" and out and out[-1]["type"] == "reply_delta":
            out[-1] = {"type": "reply_delta", "text": out[-1]["text"] + event["text"]}
        else:
            out.append(dict(event))
    return out
