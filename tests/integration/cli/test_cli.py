"""The console script: keys, migrations, and configuration errors as an operator meets them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from store.keys import hash_key
from tests.conftest import ROOT, base_env, run_cli, scratch_pg_database, start_server, stop_server


def test_keys_create_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    user = "8c2b2d4e-e29b-41d4-a716-446655440000"
    key = run_cli(["keys", "create", "--user-id", user], env).strip().splitlines()[-1]
    assert key.startswith("cc_live_") and len(key) > 40
    db = sqlite3.connect(tmp_path / "data" / "campaign-chat.db")
    rows = db.execute("SELECT user_id, key_hash FROM api_keys").fetchall()
    assert rows == [(user, hash_key(key))]
    dump = "\n".join(db.iterdump())
    assert key not in dump


def test_keys_can_be_revoked(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    key = run_cli(["keys", "create"], env).strip().splitlines()[-1]
    assert "revoked" in run_cli(["keys", "revoke", key], env)
    listing = run_cli(["keys", "list"], env)
    assert "revoked" in listing and key not in listing


def test_migrate_is_idempotent(tmp_path: Path, pg_url: str) -> None:
    env = base_env(tmp_path, DATABASE_URL=pg_url)
    first = run_cli(["migrate"], env)
    assert first.startswith("database at revision ") and "None" not in first
    assert run_cli(["migrate"], env) == first


def test_an_invalid_setting_stops_the_command_with_a_clear_message(tmp_path: Path) -> None:
    env = base_env(tmp_path, TASK_BACKEND="kafka")
    result = subprocess.run([sys.executable, "-m", "cli.main", "serve"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "TASK_BACKEND='kafka' is invalid: use one of inline, arq, trigger" in result.stderr


@pytest.fixture
def empty_pg_url(service_env: dict[str, str]) -> Iterator[str]:
    """A PostgreSQL database nobody has migrated yet."""
    with scratch_pg_database(service_env, "cc_empty") as url:
        yield url


def test_every_command_on_an_unmigrated_database_says_so_and_what_to_run(tmp_path: Path, empty_pg_url: str) -> None:
    env = base_env(tmp_path, DATABASE_URL=empty_pg_url)
    for args in (["keys", "create"], ["keys", "list"], ["keys", "revoke", "key_0123"], ["runs", "list"],
                 ["sessions", "release", str(uuid.uuid4())], ["worker"]):
        result = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 3, (args, result.stderr[-2000:])
        assert "not migrated" in result.stderr and "run `campaign-chat migrate`" in result.stderr, args
        assert "Traceback" not in result.stderr, (args, result.stderr[-2000:])
    run_cli(["migrate"], env)
    assert run_cli(["keys", "create"], env).strip().splitlines()[-1].startswith("cc_live_")


def test_serve_on_an_unmigrated_database_is_not_ready_and_says_what_to_run(tmp_path: Path, empty_pg_url: str) -> None:
    server = start_server(tmp_path, migrate=False, DATABASE_URL=empty_pg_url)
    try:
        ready = httpx.get(server.url + "/health/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["code"] == "not_migrated", ready.text
        assert "run `campaign-chat migrate`" in ready.json()["error"] and ready.json()["failing"] == ["database"]
        refused = httpx.get(server.url + f"/api/campaigns/ai-chat-sessions/{uuid.uuid4()}",
                            headers={"Authorization": "Bearer cc_live_whatever"}, timeout=10)
        assert refused.status_code == 503 and refused.json()["code"] == "not_migrated", refused.text
        assert "campaign-chat migrate" in refused.json()["error"]
        run_cli(["migrate"], server.env)
        assert httpx.get(server.url + "/health/ready", timeout=10).status_code == 200
        logs = server.logs()
        assert "not migrated" in logs and "campaign-chat migrate" in logs
        assert "Traceback" not in logs and "UndefinedTable" not in logs
    finally:
        stop_server(server)
