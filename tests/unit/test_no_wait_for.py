"""asyncio.wait_for is not used by the service: on Python 3.11 it can lose a cancellation that arrives
just as the awaited call completes (the caller's task then runs on, "cancelling" forever; a shutdown
that cancels a listener hangs). ``asyncio.timeout`` has no such window."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "bridge", "cli", "core", "jobs", "ops", "services", "store")


def _wait_for_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "wait_for"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "asyncio"]


def test_service_code_uses_asyncio_timeout_not_wait_for() -> None:
    found = {str(path.relative_to(ROOT)): lines for package in PACKAGES for path in (ROOT / package).rglob("*.py")
             if (lines := _wait_for_calls(path))}
    assert found == {}, f"asyncio.wait_for in {found}; use 'async with asyncio.timeout(...)'"
