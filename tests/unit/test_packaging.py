"""The installable wheel (what the Docker image and `pip install` get) ships every runtime package."""

from __future__ import annotations

import tomllib

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
