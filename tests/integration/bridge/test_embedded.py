"""The embedded default (TASK_BACKEND=inline): `serve` runs turns in a worker process it starts itself.

Live servers on the embedded SQLite default (the worker's wake-ups reach subscribers through the API);
a slow model is an OpenAI-compatible stub held open by the test (tests/support/provider.py).
"""


import asyncio
import os
import signal
import time
from typing import Any

import httpx
import pytest

from tests.support.harness import provider_env, wait_for
from tests.support.provider import Provider

BASE = "/api/campaigns/ai-chat-sessions"
pytestmark = pytest.mark.timeout(180)


def worker_pid(server: Any) -> int:
    """The embedded worker of a live server: its child running bridge.embedded_worker."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    command = f.read()
            except OSError:
                continue
            if parent == server.process.pid and b"bridge.embedded_worker" in command:
                return int(entry)
    raise AssertionError("no embedded worker process")


class Client:
    def __init__(self, server: Any, key: str | None = None) -> None:
        self.key = key or server.create_key()
        self.http = httpx.AsyncClient(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {self.key}"})

    async def session(self) -> str:
        body = {"campaign_id": "8c2b2d4e-e29b-41d4-a716-446655440000", "node_id": "8c2b2d4e-e29b-41d4-a716-446655440001"}
        return (await self.http.post(BASE, json=body)).json()["session"]["id"]

    async def turn(self, session_id: str, message: str = "Write an intro email for VPs of Sales") -> str:
        response = await self.http.post(f"{BASE}/{session_id}/turn", json={"message": message})
        assert response.status_code == 202, response.text
        return response.json()["runId"]

    async def get(self, session_id: str) -> dict[str, Any]:
        return (await self.http.get(f"{BASE}/{session_id}")).json()["session"]

    async def idle(self, session_id: str, timeout: float = 60) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            session = await self.get(session_id)
            return session if session["task_status"] is None else None

        return await wait_for(check, f"session {session_id} to be idle", timeout=timeout)



async def test_a_burst_of_turns_is_accepted_at_once_and_every_turn_finishes(live_server_factory: Any) -> None:
    server = live_server_factory()
    client = Client(server)
    sessions = [await client.session() for _ in range(60)]
    began = time.monotonic()
    runs = await asyncio.gather(*(client.turn(s) for s in sessions))  # all accepted, none waits for a turn
    accepted_in = time.monotonic() - began
    done = [await client.idle(s) for s in sessions]
    assert [d["last_run"]["id"] for d in done] == runs
    assert {d["last_run"]["status"] for d in done} == {"succeeded"}
    assert all([m["role"] for m in d["messages"]] == ["user", "assistant"] for d in done)
    assert accepted_in < 30, accepted_in
    await client.http.aclose()


async def test_a_killed_worker_is_restarted_and_queued_turns_still_run(live_server_factory: Any,
                                                                       held: Provider) -> None:
    """The run that was executing loses its heartbeat and is ended by the reaper (lease_expired); runs
    still queued were PENDING in the database and run once the restarted worker picks them up."""
    server = live_server_factory(CAMPAIGN_CHAT_WORKER_CONCURRENCY="1", CAMPAIGN_CHAT_CLAIM_LEASE_SECONDS="3",
                                 **provider_env(held.url))
    client = Client(server)
    first, second = await client.session(), await client.session()
    running = await client.turn(first)
    await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the first turn to call its model")
    queued = await client.turn(second)  # the only slot is taken: it waits in the worker's queue
    os.kill(worker_pid(server), signal.SIGKILL)
    held.gate.set()  # the model answers from now on
    freed = await client.idle(first, timeout=60)
    assert freed["last_run"]["id"] == running and freed["last_run"]["error"]["code"] == "lease_expired"
    assert [m["role"] for m in freed["messages"]] == ["user"]  # what the user said is kept
    done = await client.idle(second, timeout=60)
    assert done["last_run"]["id"] == queued and done["last_run"]["status"] == "succeeded"
    assert "embedded worker exited" in server.logs()
    await client.http.aclose()


async def test_cancel_stops_a_turn_running_in_the_worker(live_server_factory: Any, held: Provider) -> None:
    server = live_server_factory(**provider_env(held.url))
    client = Client(server)
    session = await client.session()
    run_id = await client.turn(session)
    await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the turn to call its model")
    response = await client.http.post(f"/api/v2/runs/{run_id}/cancel")
    assert response.status_code == 200 and response.json() == {"id": run_id}
    after = await client.get(session)  # the cancel answered once the worker recorded it
    assert after["task_status"] is None
    assert after["last_run"]["status"] == "canceled" and after["last_run"]["error"]["code"] == "canceled"
    await client.http.aclose()


async def test_sigterm_gives_a_running_turn_its_grace_then_records_it_interrupted(live_server_factory: Any,
                                                                                  held: Provider) -> None:
    server = live_server_factory(CAMPAIGN_CHAT_WORKER_SHUTDOWN_GRACE_SECONDS="1", **provider_env(held.url))
    client = Client(server)
    session = await client.session()
    run_id = await client.turn(session)
    await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the turn to call its model")
    worker = worker_pid(server)
    server.process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -SIGTERM)
    assert await asyncio.to_thread(server.process.wait, 60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.logs()
    await wait_for(lambda: asyncio.sleep(0, not os.path.exists(f"/proc/{worker}")), "the worker to exit")
    await client.http.aclose()
    restarted = Client(live_server_factory(**server.env), key=client.key)  # the same data directory
    after = await restarted.get(session)
    await restarted.http.aclose()
    assert after["task_status"] is None and after["last_run"]["id"] == run_id
    assert after["last_run"]["error"]["code"] == "interrupted"


def test_a_worker_started_before_the_database_is_migrated_waits_for_go(tmp_path: Any) -> None:
    """`serve` starts the worker before the API migrates the embedded database (so their start-ups
    overlap); the worker must not read the database until the API says go. Started on a data dir whose
    database has no tables yet, it stays up once its agents are built; told go while still unmigrated
    (PostgreSQL waits for `campaign-chat migrate`), it says so once and waits; migrated, it is ready."""
    import socket
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_")}
    env.update(CAMPAIGN_CHAT_DATA_DIR=str(tmp_path / "data"), CAMPAIGN_CHAT_LOG_FORMAT="json", PYTHONPATH=str(ROOT))
    ours, theirs = socket.socketpair()
    worker = subprocess.Popen([sys.executable, "-m", "bridge.embedded_worker", str(theirs.fileno())], cwd=ROOT,
                              pass_fds=(theirs.fileno(),), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    theirs.close()
    seen: list[str] = []
    try:
        assert worker.stdout is not None
        deadline = time.monotonic() + 60
        while not any("framework LLM" in line for line in seen):  # its imports and agents are done
            assert time.monotonic() < deadline and worker.poll() is None, "".join(seen)[-3000:]
            seen.append(worker.stdout.readline().decode())
        with pytest.raises(subprocess.TimeoutExpired):  # and now it waits (it used to read, and die)
            worker.wait(timeout=1.5)
        # Told go on a database that is still not migrated (PostgreSQL waits for `campaign-chat migrate`):
        # one plain warning, and it keeps waiting instead of dying with a traceback.
        ours.sendall(b'{"go":true}\n')
        while not any("not migrated" in line for line in seen):
            assert time.monotonic() < deadline and worker.poll() is None, "".join(seen)[-3000:]
            seen.append(worker.stdout.readline().decode())
        subprocess.run([sys.executable, "-m", "cli.main", "migrate"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)
        while not any("embedded worker ready" in line for line in seen):  # it looks again every 2 s
            assert time.monotonic() < deadline and worker.poll() is None, "".join(seen)[-3000:]
            seen.append(worker.stdout.readline().decode())
        ours.sendall(b'{"stop":true}\n')
        output = "".join(seen) + worker.communicate(timeout=60)[0].decode()
        assert worker.returncode == 0, output[-3000:]
        assert "Traceback" not in output and sum("not migrated" in line for line in seen) == 1, output[-3000:]
    finally:
        ours.close()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
