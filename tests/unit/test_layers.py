"""Layers point one way: cli -> api -> services -> bridge -> jobs -> (store | ops) -> core.

The contract lives in pyproject.toml ([tool.importlinter]) and is checked by import-linter, whose
graph (grimp) includes imports made inside functions; the second test shows it catches one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    command = str(exe) if exe.exists() else shutil.which("lint-imports") or "lint-imports"
    return subprocess.run([command, "--no-cache", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_the_project_keeps_its_layer_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0 and "0 broken" in result.stdout, result.stdout + result.stderr


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path: Path) -> None:
    for package, body in {"high": "", "low": "def f():\n    import high  # a lower layer reaching up\n"}.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["high", "low"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "high above low"\ntype = "layers"\nlayers = ["high", "low"]\n')
    result = lint_imports(tmp_path)
    assert result.returncode != 0 and "1 broken" in result.stdout, result.stdout + result.stderr
