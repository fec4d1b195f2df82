"""The deploy bundle is what @trigger.dev/python's own build code makes of trigger.config, and it runs alone.

The bundle is built by calling the real config's pythonExtension ``onBuildComplete`` (see
trigger/harness/build-bundle.ts); the Python side is installed into a new venv from the bundle's
``requirements.txt`` only, and nothing of the checkout is importable from there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from tests.conftest import app_factory
from tests.support.fake_trigger import FakeTrigger
from tests.support.trigger_worker import ROOT, SECRET_KEY, TRIGGER_DIR, TriggerBuild, clean_path, find_uv

from core.settings import Settings

# Generous: the first test also builds the session's bundle and venv (uv may have to download wheels).
pytestmark = pytest.mark.timeout(300)

EXPORT = ["export", "--frozen", "--no-dev", "--extra", "otel", "--no-hashes", "--no-emit-project"]


def wheel_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def files_under(base: Path, top: str) -> set[str]:
    return {str(p.relative_to(base)) for p in (base / top).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def bundle_env(build: TriggerBuild) -> dict[str, str]:
    """What the task gives the job: the image's environment, PYTHONPATH = the bundle (its working directory)."""
    return {"PATH": clean_path(), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
            "PYTHONPATH": str(build.bundle)}


def test_the_python_extension_bundles_every_package_of_the_wheel_and_its_data_files(trigger_build: TriggerBuild) -> None:
    bundle = trigger_build.bundle
    packages = wheel_packages()
    expected = {"requirements.txt", "contracts/openapi.yaml"}
    for package in packages:
        # Every file a package holds (modules, migration scripts, templates), as the wheel ships it.
        expected |= files_under(ROOT, package)
    got = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert got == expected, {"missing": sorted(expected - got), "unexpected": sorted(got - expected)}
    for name in sorted(expected - {"requirements.txt"}):
        assert (bundle / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert (bundle / "requirements.txt").read_bytes() == (TRIGGER_DIR / "requirements.txt").read_bytes()
    assert not [w for w in trigger_build.warnings if "No files found" in w], trigger_build.warnings

    # The image layers the extension adds for a deploy: Python, then `pip install -r requirements.txt`.
    layers = {layer["id"]: layer for layer in trigger_build.layers}
    assert layers["python-installation"]["deploy"]["env"]["PYTHON_BIN_PATH"] == "/opt/venv/bin/python"
    assert "RUN pip install --no-cache-dir -r ./requirements.txt" in layers["python-dependencies"]["image"]["instructions"]


def test_the_globs_follow_the_wheel_package_list_of_pyproject(trigger_build: TriggerBuild, tmp_path: Path) -> None:
    """Moving or adding a package is a pyproject.toml change only: the config reads the list at build time."""
    (tmp_path / "trigger").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.hatch.build.targets.wheel]\npackages = [\n    "alpha",\n    "beta", # moved\n]\n'
        '\n[tool.hatch.build.targets.wheel.force-include]\n"contracts" = "contracts"\n')
    script = ("const m = await import(process.argv[1]);"
              "console.log(JSON.stringify({real: m.pythonScripts(), moved: m.pythonScripts(process.argv[2])}));")
    config = (trigger_build.compiled / "trigger.config.js").as_uri()
    result = subprocess.run(["node", "--input-type=module", "-e", script, config, str(tmp_path / "trigger")],
                            cwd=TRIGGER_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    globs = json.loads(result.stdout)
    data = ["../store/migrations/script.py.mako", "../contracts/openapi.yaml"]
    assert globs["real"] == [f"../{name}/**/*.py" for name in wheel_packages()] + data
    assert globs["moved"] == ["../alpha/**/*.py", "../beta/**/*.py"] + data


def test_requirements_are_the_lockfile_exported_with_the_otel_extra(tmp_path: Path) -> None:
    exported = tmp_path / "requirements.txt"
    result = subprocess.run([find_uv(), *EXPORT, "-o", str(exported)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    committed = (TRIGGER_DIR / "requirements.txt").read_text()
    command = f"uv {' '.join(EXPORT)} -o trigger/requirements.txt"
    assert command in committed.splitlines()[1], "re-export with: " + command
    assert exported.read_text().replace(str(exported), "trigger/requirements.txt") == committed, (
        "trigger/requirements.txt is out of date with uv.lock; run: " + command)
    assert "opentelemetry-sdk==" in committed and "opentelemetry-exporter-otlp-proto-http==" in committed


PROBE = """
import json, sys
import bridge.trigger_task, opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter
from importlib import metadata
try:
    import tests
    checkout_tests = tests.__file__
except ImportError:
    checkout_tests = None
packages = set(json.loads(sys.argv[1]))
print(json.dumps({
    "modules": {name: getattr(m, "__file__", None) for name, m in sys.modules.items() if name.split(".")[0] in packages},
    "path": sys.path,
    "prefix": sys.prefix,
    "checkout_tests": checkout_tests,
    "distributions": sorted(d.metadata["Name"] for d in metadata.distributions()),
}))
"""


def test_the_bundle_runs_in_a_fresh_venv_from_requirements_alone(trigger_build: TriggerBuild) -> None:
    """Imports the job entry point and the OpenTelemetry exporter the way the task starts the job: the
    venv's python, working directory and PYTHONPATH = the bundle. Every project module comes from the
    bundle; the checkout is not reachable (its `tests` package cannot be imported)."""
    packages = wheel_packages()
    result = subprocess.run([str(trigger_build.python), "-c", PROBE, json.dumps(packages)], cwd=trigger_build.bundle,
                            env=bundle_env(trigger_build), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    bundle = trigger_build.bundle.resolve()
    assert {"bridge.trigger_task", "core", "store", "jobs"} <= set(probe["modules"])
    outside = {name: f for name, f in probe["modules"].items() if f and not Path(f).resolve().is_relative_to(bundle)}
    assert outside == {}, outside
    assert probe["checkout_tests"] is None
    assert not [p for p in probe["path"] if p and Path(p).resolve().is_relative_to(ROOT)], probe["path"]
    assert Path(probe["prefix"]).resolve() == trigger_build.python.parent.parent.resolve()
    # The venv holds the requirements and nothing of the project: no campaign-chat distribution, no
    # .pth file or editable install pointing into the checkout.
    assert "campaign-chat" not in {d.lower() for d in probe["distributions"]}
    assert {"opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "asyncpg"} <= {
        d.lower() for d in probe["distributions"]}
    venv = trigger_build.python.parent.parent
    for path in venv.rglob("*"):
        if path.suffix in (".pth", ".egg-link") or path.name == "direct_url.json":
            assert str(ROOT) not in path.read_text(errors="replace"), path


# `python -v` lines naming where each module came from: source, bytecode, extension modules.
LOADED_FROM = re.compile(r"^# (?:code object from|extension module '[^']+' loaded from|\S+ matches) '?(/[^' ]+)'?$")


async def test_the_job_runs_a_real_turn_from_the_bundle_and_its_venv_only(trigger_build: TriggerBuild, pg_url: str,
                                                                          tmp_path: Path) -> None:
    """`python -m bridge.trigger_task payload.json` as the task starts it (venv python, working directory
    and PYTHONPATH = the bundle) on a turn a real API claimed with TASK_BACKEND=trigger. Run verbose
    (PYTHONVERBOSE), the interpreter names the file of every module it loads: none is in the checkout."""
    fake = FakeTrigger(SECRET_KEY).start()  # the trigger route only: this test starts the job itself
    try:
        settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, log_format="json", rate_limit_per_minute=0,
                            public_token_secret="test-public-token-secret-0123456789abcdef",
                            task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=SECRET_KEY)
        async with app_factory(settings) as start:
            api = await start()
            session = await api.create_session()
            response = await api.turn(session["id"], "We sell payroll software to restaurants")
            assert response.status_code == 202, response.text
            run_id = response.json()["runId"]
            payload = tmp_path / "payload.json"
            payload.write_text(json.dumps(fake.requests[-1].body["payload"]))
            env = {**bundle_env(trigger_build), "DATABASE_URL": pg_url, "LLM_MODEL": "offline", "TRIGGER_RUN_ID": run_id,
                   "PYTHONVERBOSE": "1"}
            result = subprocess.run([str(trigger_build.python), "-m", "bridge.trigger_task", str(payload)],
                                    cwd=trigger_build.bundle, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr[-3000:]
            last = json.loads(result.stdout.splitlines()[-1])["result"]
            assert last["ran"] is True and last["status"] == "COMPLETED_SUCCESSFULLY" and last["error"] is None
            assert last["output"]["reply"]
            done = await api.get_session(session["id"])
    finally:
        fake.close()
    assert done["task_status"] is None and done["last_run"]["id"] == run_id
    assert done["last_run"]["status"] == "succeeded"

    loaded = [Path(m.group(1)) for line in result.stderr.splitlines() if (m := LOADED_FROM.match(line))]
    bundle, venv = trigger_build.bundle.resolve(), trigger_build.python.parent.parent.resolve()
    assert any(path.resolve() == bundle / "bridge" / "trigger_task.py" for path in loaded), "no verbose import lines?"
    from_checkout = sorted({str(p) for p in loaded if p.resolve().is_relative_to(ROOT)})
    assert from_checkout == [], from_checkout[:20]
    packages = set(wheel_packages())
    for path in loaded:
        resolved = path.resolve()
        if resolved.is_relative_to(bundle):
            assert resolved.relative_to(bundle).parts[0] in packages, path
        elif resolved.is_relative_to(venv):
            assert "site-packages" in resolved.parts, path  # the requirements, installed into the venv
