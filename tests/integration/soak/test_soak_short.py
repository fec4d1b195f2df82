"""The soak in its short form: real API + two ARQ worker processes + PostgreSQL + Redis, over HTTP.

Runs bench/soak.py with small numbers and asserts its invariants only (timings are printed by the
bench, never asserted). The full form (200 sessions × 5 turns) is documented in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

SESSIONS, TURNS = 20, 3


def run_soak(tmp_path: Path, service_env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_")}
    env.update(service_env)
    args = [sys.executable, str(ROOT / "bench" / "soak.py"), "--sessions", str(SESSIONS), "--turns", str(TURNS),
            "--ramp", "2", "--think", "0", "0.5", "--poll", "0.5", "1", "--sdk-subscribers", "2",
            "--max-seconds", "120", "--seed", "6", "--json", str(report)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert report.exists(), f"the soak wrote no report:\n{done.stdout}\n{done.stderr}"
    return done, json.loads(report.read_text())


def test_short_soak_keeps_every_invariant(tmp_path: Path, service_env: dict[str, str]) -> None:
    done, report = run_soak(tmp_path, service_env)
    failed = {name: r["violations"] for name, r in report["invariants"].items() if not r["ok"]}
    assert failed == {}, done.stdout
    assert done.returncode == 0, done.stdout + done.stderr

    # The load really did what the invariants are about.
    # A double submit may be accepted twice when the first turn ended before the second request was
    # handled; the invariants above prove those turns ran one after the other.
    assert SESSIONS * TURNS <= report["accepted_turns"] <= SESSIONS * TURNS + report["double_submits"]
    assert report["runs"] == {"COMPLETED_SUCCESSFULLY": report["accepted_turns"]}
    assert report["double_submits"] > 0 and report["responses"].get("POST turn 409", 0) > 0
    assert report["realtime"].get("sse ok", 0) > 0 and report["realtime"].get("shape ok", 0) > 0
    assert report["realtime"].get("sdk ok", 0) == 2
    assert not any(key.endswith("failed") for key in report["realtime"])
    assert report["api_rss_mib"]["peak"] > 0
    # The regression figures it prints: statements per turn were counted in every process (a turn's own
    # run takes at least its start, one event batch and its end).
    statements = report["db_statements_per_turn"]
    assert statements["worker"] >= 3 and statements["api"] > 0, statements
    assert "SQL statements per accepted turn: api" in done.stdout
