"""``campaign-chat runs list|show`` and ``sessions release``, run as the operator would, on the app's database."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.settings import Settings
from tests.support.models import HeldModel
from tests.conftest import ROOT, Api, base_env


def cli(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(tmp_path, DATABASE_URL=settings.database_url, USER="ops-test")
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


async def acli(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI off the event loop: the app under test shares this loop and must keep serving."""
    return await asyncio.to_thread(cli, settings, tmp_path, *args)


async def test_runs_list_and_show_describe_a_finished_turn(api: Api, settings: Settings, tmp_path: Path) -> None:
    session = await api.create_session()
    run_id = (await api.turn(session["id"], "Write an intro email")).json()["runId"]
    await api.wait_idle(session["id"])

    listing = await acli(settings, tmp_path, "runs", "list", "--session", session["id"])
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()
    assert header.split()[:3] == ["RUN", "STATUS", "TASK"]
    assert row.split()[:4] == [run_id, "COMPLETED_SUCCESSFULLY", "framework-chat-turn", session["id"]]
    executing = await acli(settings, tmp_path, "runs", "list", "--session", session["id"], "--status", "executing")
    assert executing.stdout == "" and "no runs match" in executing.stderr

    shown = await acli(settings, tmp_path, "runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    fields = dict(line.split(":", 1) for line in shown.stdout.splitlines() if not line.startswith(" "))
    assert fields["status"].strip() == "COMPLETED_SUCCESSFULLY"
    assert fields["task"].strip() == "framework-chat-turn on inline"
    assert "(ran " in fields["completed"] and "(queued " in fields["started"]
    assert "out tokens, 1 requests" in fields["usage"]
    kinds = [line.split()[2] for line in shown.stdout.splitlines() if line.startswith("  ")]
    assert kinds[0] == "phase" and "reply" in kinds and kinds[-1] == "done"

    as_json = json.loads((await acli(settings, tmp_path, "runs", "show", run_id, "--json")).stdout)
    assert as_json["status"] == "COMPLETED_SUCCESSFULLY" and as_json["events"][-1]["event"]["type"] == "done"
    missing = await acli(settings, tmp_path, "runs", "show", "run_doesnotexist")
    assert missing.returncode == 1 and "no run run_doesnotexist" in missing.stderr
    bad_status = await acli(settings, tmp_path, "runs", "list", "--status", "FINISHED-ISH")
    assert bad_status.returncode == 2 and "unknown status" in bad_status.stderr


async def test_sessions_release_frees_a_stuck_claim_fails_its_run_and_says_so_in_the_log(
    api_factory: Any, settings: Settings, tmp_path: Path
) -> None:
    model = HeldModel()
    api = await api_factory(llm=model)
    session = await api.create_session()
    run_id = (await api.turn(session["id"])).json()["runId"]
    assert (await api.get_session(session["id"]))["task_status"] == "chat_processing"

    released = await acli(settings, tmp_path, "sessions", "release", session["id"], "--reason", "model provider hung")
    assert released.returncode == 0, released.stderr
    assert f"released session {session['id']}" in released.stdout and run_id in released.stdout
    audit = [json.loads(line) for line in released.stderr.splitlines() if line.startswith("{")]
    line = next(r for r in audit if r["event"] == "session claim released by operator")
    assert line["session_id"] == session["id"] and line["run_id"] == run_id
    assert line["operator"] == "ops-test" and line["reason"] == "model provider hung"

    freed = await api.get_session(session["id"])
    assert freed["task_status"] is None
    assert freed["last_run"]["error"]["code"] == "released_by_operator"
    shown = (await acli(settings, tmp_path, "runs", "show", run_id)).stdout
    assert "SYSTEM_FAILURE" in shown and "released_by_operator" in shown and "model provider hung" in shown

    again = await acli(settings, tmp_path, "sessions", "release", session["id"])
    assert again.returncode == 1 and "not busy" in again.stderr

    # The session is usable at once; the stuck turn, when it finally returns, cannot write over anything.
    assert (await api.turn(session["id"])).status_code == 202
    await api.in_app(model.finish)
    after = await api.wait_idle(session["id"])
    assert after["last_run"]["status"] == "succeeded"
    assert "SYSTEM_FAILURE" in (await acli(settings, tmp_path, "runs", "show", run_id)).stdout


async def test_sessions_release_of_an_unknown_session_fails_clearly(settings: Settings, db: Any,
                                                                    tmp_path: Path) -> None:
    result = await acli(settings, tmp_path, "sessions", "release", "00000000-0000-4000-8000-000000000000")
    assert result.returncode == 1 and "no session" in result.stderr
