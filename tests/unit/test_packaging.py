"""The installable wheel (what the Docker image and `pip install` get) ships every runtime package."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.conftest import ROOT

NOT_SHIPPED = {"tests", "bench", "node_modules", "scripts", "docs", "trigger", "node-checks", "contracts"}


def test_every_runtime_package_is_in_the_wheel_and_the_image() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = set(config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_SHIPPED
    assert shipped == packages
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name in sorted(packages | {"contracts"}):
        assert f"COPY {name} ./{name}" in dockerfile, name


def test_the_scripts_install_every_module_compiled() -> None:
    """This project's machines set PYTHONDONTWRITEBYTECODE, so Python never caches compiled modules: a
    process compiles every module it imports, at every start (`keys create` 1.26 s instead of ~0.5 s,
    the embedded worker ready after 4-5.6 s instead of ~1.3 s). scripts/bootstrap.sh, which the README's
    commands run, compiles the installed packages once and our own sources."""
    import importlib.util
    import re

    import litestar
    import pydantic_ai
    import sqlalchemy

    import api.app
    import jobs.agent.framework

    for module in (litestar, pydantic_ai, sqlalchemy, api.app, jobs.agent.framework):
        assert Path(importlib.util.cache_from_source(module.__file__)).is_file(), module.__name__
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = set(config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    compiled = re.search(r"compileall -q ([a-z ]+)", (ROOT / "scripts" / "bootstrap.sh").read_text())
    assert compiled and set(compiled.group(1).split()) == shipped
