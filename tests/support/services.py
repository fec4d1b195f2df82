"""Servers of a test's own, to stop and restart at will: the shared ones (Redis 6390, PostgreSQL
5490) carry everyone else's tests and are never touched here."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port


def _wait(check, what: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class OwnRedis:
    """``redis-server`` in the foreground on a free port, without persistence."""

    dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        return subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() == b"PONG"

    def start(self) -> None:
        log = (self.dir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=log, stderr=subprocess.STDOUT)
        _wait(self._ping, "redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not found:
        raise AssertionError("PostgreSQL binaries not found: run scripts/services.sh once to install them")
    return Path(found[-1])


@dataclass
class OwnPostgres:
    """A throwaway cluster (initdb as the ``postgres`` OS user, like scripts/services.sh) on a free port."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cc-faults-pg-")))

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://app@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        command = " ".join(args)
        if os.geteuid() == 0:
            subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", command], check=True, capture_output=True)
        else:
            subprocess.run(["/bin/sh", "-c", command], check=True, capture_output=True)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._as_postgres(str(_pg_bin() / "initdb"), "-D", str(self.root / "data"), "-U", "app", "-A", "trust",
                          "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._as_postgres(str(_pg_bin() / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "log"),
                          "-w", "-o", f"'{options}'", "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(_pg_bin() / "pg_ctl"), "-D", str(self.root / "data"), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)
