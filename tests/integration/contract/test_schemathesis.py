"""The running server conforms to contracts/openapi.yaml: schemathesis with every default check.

Runs the schemathesis CLI (all phases: coverage, fuzzing, and stateful through the contract's
links; positive and negative data; warnings fail the run) against a live `campaign-chat serve`,
on the embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, LiveServer


def _schemathesis() -> str:
    exe = Path(sys.executable).with_name("schemathesis")
    return str(exe) if exe.exists() else shutil.which("schemathesis") or "schemathesis"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_live_server_conforms_to_the_contract(
    engine: str, live_server_factory: Callable[..., LiveServer], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = {} if engine == "sqlite" else {"DATABASE_URL": request.getfixturevalue("pg_url")}
    server = live_server_factory(**env)
    key = server.create_key()
    result = subprocess.run(
        [_schemathesis(), "run", "contracts/openapi.yaml", "--url", server.url, "-H", f"Authorization: Bearer {key}",
         "--seed", "1", "--report", "junit", "--report-junit-path", str(tmp_path / "schemathesis.xml")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    # On failure, the server's own error lines (with their tracebacks) say why, not just the status.
    assert result.returncode == 0, output[-8000:] + "\nserver errors: " + json.dumps(error_lines(server.logs()))[-6000:]
    summary = output.strip().splitlines()[-1]
    assert "failure" not in summary and "error" not in summary, summary
    assert error_lines(server.logs()) == []


def error_lines(logs: str) -> list[dict]:
    """Log records at level error or above: an unhandled exception logs one, whatever the response said."""
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    return [r for r in records if r.get("level") in ("error", "critical", "exception")]

