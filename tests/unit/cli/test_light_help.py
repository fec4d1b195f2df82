"""`campaign-chat --help` (and a subcommand's) answers without loading the database stack: the store,
SQLAlchemy and the web framework load only when a command that needs them runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("sqlalchemy", "store.db", "litestar", "pydantic_ai", "arq", "prometheus_client")

PROBE = """
import json, sys
from cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy} or m in {heavy})))
"""


@pytest.mark.parametrize("argv", [["--help"], ["keys", "--help"], ["runs", "--help"], ["worker", "--help"]])
def test_help_loads_no_heavy_module(argv: list[str]) -> None:
    code = PROBE.format(heavy=repr(set(HEAVY)))
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage: campaign-chat" in done.stdout
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"`campaign-chat {' '.join(argv)}` imported {len(loaded)} heavy modules: {loaded[:5]}…"
