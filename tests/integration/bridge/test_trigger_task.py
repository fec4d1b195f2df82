"""bridge.trigger_task: what the Trigger.dev tasks run. Same job code; progress as JSON lines on stdout.

Trigger.dev's trigger route is faked by a local HTTP server; the Python entry module runs as a real
subprocess against the test's real database, exactly as ``python.stream.run`` starts it, and its
standard output is read as the TypeScript task reads it (one JSON object per line).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, base_env
from store import runs
from store.db import Database
from store.migrate import HEAD_REVISION, script_head
from tests.support.fake_trigger import FakeTrigger
from tests.support.realtime import merge_deltas

SECRET = "tr_dev_entry_0123456789abcdef"


class Platform:
    """The trigger route of a fake Trigger.dev (tests/support/fake_trigger.py) and the payloads it got."""

    def __init__(self) -> None:
        self.fake = FakeTrigger(SECRET).start()
        self.url = self.fake.url

    @property
    def triggered(self) -> list[dict[str, Any]]:
        return [{"payload": json.loads(run.payload)} for run in self.fake.runs.values()]


@pytest.fixture
def fake() -> Iterator[Platform]:
    platform = Platform()
    yield platform
    platform.fake.close()


def run_entry_lines(tmp_path: Path, payload: dict[str, Any], *, database_url: str, trigger_run_id: str,
                    url: str) -> list[dict[str, Any]]:
    """Every stdout line of one run, parsed; each must be one of the protocol's objects."""
    path = tmp_path / f"payload-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(payload))
    env = base_env(tmp_path, DATABASE_URL=database_url, TRIGGER_RUN_ID=trigger_run_id, TRIGGER_SECRET_KEY=SECRET,
                   TRIGGER_API_URL=url)
    result = subprocess.run([sys.executable, "-m", "bridge.trigger_task", str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(len(line) == 1 and next(iter(line)) in ("chat", "metadata", "result") for line in lines), lines
    assert "result" in lines[-1] and all("result" not in line for line in lines[:-1])
    return lines


def run_entry(tmp_path: Path, payload: dict[str, Any], *, database_url: str, trigger_run_id: str, url: str) -> dict:
    return run_entry_lines(tmp_path, payload, database_url=database_url, trigger_run_id=trigger_run_id,
                           url=url)[-1]["result"]


async def test_a_triggered_turn_runs_the_job_and_reports_to_its_run_metadata(api_factory, fake, settings, tmp_path) -> None:
    api = await api_factory(task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=SECRET)
    session = await api.create_session()
    response = await api.turn(session["id"], "We sell payroll software to restaurants",
                              availableVarNames=["first_name"])
    assert response.status_code == 202, response.text
    trigger_run_id = response.json()["runId"]
    payload = fake.triggered[-1]["payload"]

    lines = run_entry_lines(tmp_path, payload, database_url=settings.database_url, trigger_run_id=trigger_run_id,
                            url=fake.url)
    result = lines[-1]["result"]
    assert result["ran"] is True and result["status"] == "COMPLETED_SUCCESSFULLY" and result["error"] is None
    assert result["output"]["reply"] and result["output"]["usage"]["requests"] == 1  # the run's output summary

    done = await api.get_session(session["id"])
    assert done["task_status"] is None
    assert done["last_run"]["id"] == trigger_run_id and done["last_run"]["status"] == "succeeded"
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]

    streamed = [line["chat"] for line in lines if "chat" in line]
    db = Database(settings.database_url)
    try:
        stored = [row.event for row in await db.run_read(runs.events_after, run_id=payload["run_id"], after_seq=0)]
    finally:
        await db.dispose()
    # Trigger.dev subscribers see the events local subscribers see (reply deltas may be batched differently).
    assert merge_deltas(streamed) == merge_deltas(stored)
    assert streamed[-1] == {"type": "done", "status": "succeeded"}
    final_state: dict[str, Any] = {}
    for line in lines:
        final_state.update(line.get("metadata", {}))
    assert final_state["phase"] == "done" and final_state["status"] == "succeeded"
    assert final_state["reply"].strip() == done["messages"][-1]["content"].strip()

    # A Trigger.dev retry of the same run finds it ended, changes nothing, and reports how it ended.
    again = run_entry(tmp_path, payload, database_url=settings.database_url, trigger_run_id=trigger_run_id,
                      url=fake.url)
    assert again == {**result, "ran": False}
    assert await api.get_session(session["id"]) == done


async def test_inline_and_trigger_task_produce_the_same_session(api_factory, fake, settings, tmp_path) -> None:
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
    result = subprocess.run([sys.executable, "-m", "bridge.trigger_task", str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "missing environment: TRIGGER_RUN_ID" in result.stderr


async def _triggered_turn(api_factory, fake) -> tuple[Any, dict[str, Any], dict[str, Any], str]:
    api = await api_factory(task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=SECRET)
    session = await api.create_session()
    response = await api.turn(session["id"], "We sell payroll software to restaurants")
    assert response.status_code == 202, response.text
    return api, session, dict(fake.triggered[-1]["payload"]), response.json()["runId"]


async def _stored_run(settings, run_id: str) -> Any:
    db = Database(settings.database_url)
    try:
        return await db.run_read(runs.get, run_id)
    finally:
        await db.dispose()


@pytest.mark.parametrize("change", [{"schema_version": 99}, {"task": "some-future-task"},
                                    {"input": {"message": "hi", "a_field_from_the_future": 1}}])
async def test_a_payload_newer_than_the_job_fails_the_run_at_once_and_frees_the_session(
        api_factory, fake, settings, tmp_path, change) -> None:
    api, session, payload, trigger_run_id = await _triggered_turn(api_factory, fake)
    payload.update(change)
    lines = run_entry_lines(tmp_path, payload, database_url=settings.database_url, trigger_run_id=trigger_run_id,
                            url=fake.url)
    result = lines[-1]["result"]
    assert result["ran"] is False and result["status"] == "SYSTEM_FAILURE" and result["output"] is None
    assert result["error"]["code"] == "version_skew"
    done = await api.get_session(session["id"])
    assert done["task_status"] is None
    assert done["last_run"]["status"] == "failed" and done["last_run"]["error"]["code"] == "version_skew"
    assert done["last_run"]["id"] == trigger_run_id
    assert [m["role"] for m in done["messages"] or []] == []  # refused before anything was written
    run = await _stored_run(settings, payload["run_id"])
    assert run.status == "SYSTEM_FAILURE" and run.failure.code == "version_skew"
    assert "deploy the same release" in run.failure.message


async def test_a_database_at_another_migration_level_fails_the_run_at_once(api_factory, fake, settings,
                                                                              tmp_path) -> None:
    from sqlalchemy import text

    api, session, payload, trigger_run_id = await _triggered_turn(api_factory, fake)
    db = Database(settings.database_url)
    try:
        async with db.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
        lines = run_entry_lines(tmp_path, payload, database_url=settings.database_url,
                                trigger_run_id=trigger_run_id, url=fake.url)
    finally:
        async with db.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD_REVISION})
        await db.dispose()
    assert lines[-1]["result"]["ran"] is False and lines[-1]["result"]["error"]["code"] == "version_skew"
    done = await api.get_session(session["id"])
    assert done["task_status"] is None and done["last_run"]["error"]["code"] == "version_skew"
    assert "0099_from_the_future" in done["last_run"]["error"]["message"]


def test_the_known_head_revision_is_the_migration_scripts_head() -> None:
    assert script_head() == HEAD_REVISION
