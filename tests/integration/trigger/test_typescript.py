"""trigger/ (the Trigger.dev project) is pinned by its lockfile and type-checks, as CI requires.

What the project builds and runs is proven in test_bundle.py and test_production_path.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.conftest import ROOT

TRIGGER = ROOT / "trigger"


def test_trigger_project_type_checks_with_tsc() -> None:
    npx = shutil.which("npx")
    assert npx, "Node 20 + npm are required (scripts/node-setup.sh installs them)"
    assert (TRIGGER / "node_modules" / ".bin" / "tsc").exists(), "run `bash scripts/node-setup.sh` (npm ci in trigger/)"
    result = subprocess.run([npx, "--no-install", "tsc", "--noEmit", "-p", "tsconfig.json"], cwd=TRIGGER,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_trigger_dependencies_are_pinned_exactly_and_locked() -> None:
    package = json.loads((TRIGGER / "package.json").read_text())
    lock = json.loads((TRIGGER / "package-lock.json").read_text())
    declared = {**package["dependencies"], **package["devDependencies"]}
    assert {"@trigger.dev/sdk", "@trigger.dev/python", "@trigger.dev/build", "@trigger.dev/core", "typescript"} <= set(declared)
    # The SDK, the python extension (whose last release is 4.5.10) and the worker pieces move together.
    assert len({v for name, v in declared.items() if name.startswith("@trigger.dev/")}) == 1, declared
    for name, version in declared.items():
        assert version[0].isdigit(), f"{name} must be pinned to an exact version, not {version!r}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version

