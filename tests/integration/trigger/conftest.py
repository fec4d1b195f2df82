"""The Trigger.dev project built once per test session: compiled, bundled by the extension, in a fresh venv."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator

import pytest
from tests.support.trigger_worker import (
    TRIGGER_DIR,
    TriggerBuild,
    build_bundle,
    compile_project,
    ensure_node_modules,
    make_venv,
)


@pytest.fixture(scope="session")
def trigger_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TriggerBuild]:
    """tsc output of trigger/ (in a private folder under trigger/dist/, removed afterwards), the deploy
    bundle the python extension builds, and a new venv with only the bundle's requirements.txt."""
    ensure_node_modules()
    compiled = TRIGGER_DIR / "dist" / f"pytest-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        compile_project(compiled)
        bundle = tmp_path_factory.mktemp("bundle")
        built = build_bundle(compiled, bundle)
        python = make_venv(tmp_path_factory.mktemp("bundle-venv") / "venv", bundle / "requirements.txt")
        yield TriggerBuild(compiled=compiled, bundle=bundle, python=python, layers=built["layers"],
                           warnings=built["warnings"])
    finally:
        shutil.rmtree(compiled, ignore_errors=True)
