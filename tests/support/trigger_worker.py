"""The deployable Trigger.dev project, built and run the way the platform would, for tests.

* :func:`compile_project`: tsc (the pinned one in trigger/node_modules) emits trigger/ (config, tasks,
  harness) into a private folder under ``trigger/dist/``.
* :func:`build_bundle`: runs the compiled ``harness/build-bundle.js``: the real trigger.config's
  pythonExtension copies its globs into an empty folder, as ``trigger.dev deploy`` does.
* :func:`make_venv`: a fresh virtual environment with only the bundle's ``requirements.txt`` installed
  (what the image's ``pip install -r requirements.txt`` layer holds).
* :class:`WorkerLauncher`: the ``on_trigger`` hook of :class:`tests.support.fake_trigger.FakeTrigger`;
  starts ``harness/run-worker.js`` (our task code on SDK 4.5.10, as the deployed worker runs it) for each
  attempt of each triggered run (the fake calls it again for a retry), with the bundle as its working
  directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TRIGGER_DIR = ROOT / "trigger"
SECRET_KEY = "tr_prod_fake0123456789abcdefghij"


def ensure_node_modules() -> None:
    """trigger/node_modules from the lockfile (scripts/node-setup.sh), when pytest runs without scripts/test.sh."""
    if not (TRIGGER_DIR / "node_modules" / ".bin" / "tsc").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "node-setup.sh")], check=True, timeout=600)


def find_uv() -> str:
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(ROOT / ".tools" / "bin" / "uv")):
        if candidate and Path(candidate).exists():
            return candidate
    raise AssertionError("uv not found: run `source scripts/bootstrap.sh`")


def clean_path() -> str:
    """PATH without anything inside the checkout (the project's .venv/bin that `uv run` puts first)."""
    keep = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not Path(p).resolve().is_relative_to(ROOT)]
    return os.pathsep.join(keep or ["/usr/local/bin", "/usr/bin", "/bin"])


def compile_project(out_dir: Path) -> None:
    result = subprocess.run(
        [str(TRIGGER_DIR / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.build.json", "--outDir", str(out_dir)],
        cwd=TRIGGER_DIR, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"tsc failed:\n{result.stdout}{result.stderr}"


def build_bundle(compiled: Path, bundle: Path) -> dict[str, Any]:
    """Runs the extension's onBuildComplete into ``bundle`` (must be empty); its layers and warnings."""
    bundle.mkdir(parents=True, exist_ok=True)
    assert not any(bundle.iterdir()), f"{bundle} is not empty"
    result = subprocess.run(["node", str(compiled / "harness" / "build-bundle.js"), str(bundle)], cwd=TRIGGER_DIR,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"build-bundle failed:\n{result.stdout}{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_venv(venv: Path, requirements: Path) -> Path:
    """A new virtual environment holding exactly ``requirements``; its python."""
    uv = find_uv()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    for args in (["venv", "--quiet", "--python", sys.executable, str(venv)],
                 ["pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "-r", str(requirements)]):
        result = subprocess.run([uv, *args], cwd=venv.parent, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"uv {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return venv / "bin" / "python"


@dataclass
class TriggerBuild:
    compiled: Path
    bundle: Path
    python: Path
    layers: list[dict[str, Any]]
    warnings: list[str]


@dataclass
class WorkerLauncher:
    """Starts one worker process per attempt; reports a worker that died mid-attempt as CRASHED."""

    build: TriggerBuild
    log_dir: Path
    processes: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

    def __call__(self, fake: Any, run: Any) -> None:
        snapshot = run.snapshot_id
        env = {
            "PATH": clean_path(),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "TRIGGER_API_URL": fake.url,
            "TRIGGER_SECRET_KEY": fake.secret_key,
            "TRIGGER_WORKER_API_URL": fake.url,
            "TRIGGER_RUN_ID": run.friendly_id,
            "TRIGGER_SNAPSHOT_ID": snapshot,
            "TRIGGER_DEPLOYMENT_ID": "deployment_fake",
            "TRIGGER_DEPLOYMENT_VERSION": "20260101.1",
            "TRIGGER_PROJECT_REF": "proj_campaign_chat",
            "TRIGGER_PROJECT_DIR": str(TRIGGER_DIR),
        }
        log = (self.log_dir / f"worker-{run.friendly_id}.log").open("ab")  # attempts one after another
        process = subprocess.Popen(["node", str(self.build.compiled / "harness" / "run-worker.js")],
                                   cwd=self.build.bundle, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.setdefault(run.friendly_id, []).append(process)

        def watch() -> None:
            code = process.wait()
            log.close()
            if not fake.run(run.friendly_id).finished:
                fake.crash(run.friendly_id, f"worker exited with {code} before completing the attempt", snapshot)

        threading.Thread(target=watch, name=f"watch-{run.friendly_id}", daemon=True).start()

    def log(self, run_id: str) -> str:
        path = self.log_dir / f"worker-{run_id}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait(self, run_id: str, timeout: float) -> int:
        """The exit code of the run's latest worker."""
        return self.processes[run_id][-1].wait(timeout)

    def close(self) -> None:
        for process in (p for attempts in self.processes.values() for p in attempts):
            if process.poll() is None:
                process.kill()
                process.wait()
