"""The console script: keys, migrations, and configuration errors as an operator meets them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from store.keys import hash_key
from tests.conftest import ROOT, base_env, run_cli


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
