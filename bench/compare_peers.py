#!/usr/bin/env python3
"""campaign-chat side by side with its peers (LangGraph Agent Server, the bare floor), in one run.

    V=${TMPDIR:-/tmp}/bench-peers      # the peer venvs, set up once (../shared/bench-peers/README.md)
    $V/bare/bin/python bench/compare_peers.py                # N=2 rounds; prints one Markdown table
    $V/bare/bin/python bench/compare_peers.py --arq          # also ours with TASK_BACKEND=arq + 1 worker
    $V/bare/bin/python bench/compare_peers.py --quick        # smoke: N=1, small sizes

The script itself is stdlib only (Python 3.11+), so any python3 can run it; the load harness
(`turn_load.py`, stdlib + httpx) runs under --harness-python, by default the bare venv's python. Run it
from anywhere: paths are resolved from this file. It starts, all on 127.0.0.1:

  * ours, the embedded default: `uv run campaign-chat serve` (SQLite, inline tasks, offline model) with a
    fresh CAMPAIGN_CHAT_DATA_DIR, CAMPAIGN_CHAT_RATE_LIMIT_PER_MINUTE=0 and a key from `campaign-chat keys
    create` (one bench key stands for many users);
  * with --arq, ours with TASK_BACKEND=arq plus one `campaign-chat worker`, on a fresh PostgreSQL database
    and a unique Redis queue (TEST_DATABASE_URL / TEST_REDIS_URL, else `scripts/services.sh` is run);
    the database is dropped and the queue's keys deleted afterwards;
  * LangGraph: `start_langgraph.sh` with LG_JOBS=100 (the tuned profile), from --venvs/peer;
  * the bare floor: `bare_limit_app.py --db sqlite`, from --venvs/bare.

Then it runs the scenarios of the bench-peers README interleaved (ours, LangGraph, bare, [ours arq], ours,
...): a warm-up round first (smaller, discarded), then N rounds; each figure in the table is the best of
the N rounds. Scenarios:

  storm     --sessions 100 --storm-sessions 2000: dispatches/s, p50/p99, server CPU per dispatch and RSS
            (turn_load.py, given --server-pid for the API and any worker), whether every dispatch was 2xx,
            and whether every accepted turn finished afterwards. For the peers the harness runs as in the
            README (it drains by polling every session until idle, then deletes the sessions). For ours it
            only times the storm (--turn-timeout 0 --no-cleanup); this script then reads the database every
            50 ms until no session is busy and every run the storm created is terminal (so the drain carries
            no polling load), checks that they all ended COMPLETED_SUCCESSFULLY, records the time from storm
            end to drained and the CPU of every process that runs turns (API, worker; sampled from /proc)
            from the first claim until drained, then deletes the sessions through the API.
  sessions  --sessions 20 --poll-ms 10 --duration 10: turns done/s, end-to-end p50/p99, server CPU.
  cli       `campaign-chat --help` and `campaign-chat keys create` wall time, best of 5.

Every process it starts gets its own process group and is stopped (SIGTERM, then SIGKILL) on exit,
on errors and on Ctrl-C / SIGTERM. --json-out appends one raw JSON line per run (the harness's line plus
this script's extras) and a summary line.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
TERMINAL = {"COMPLETED_SUCCESSFULLY", "COMPLETED_WITH_ERRORS", "CANCELED", "CRASHED", "SYSTEM_FAILURE",
            "TIMED_OUT", "EXPIRED", "INTERRUPTED"}
BARE_KEY = "bench-key"
LABELS = {"ours": "ours (embedded)", "arq": "ours (arq + 1 worker)", "langgraph": "LangGraph", "bare": "bare floor"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# --------------------------------------------------------------------------- processes


def cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                state, _ppid, pgrp = f.read().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            out.append(int(name))
    return out


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def become_subreaper() -> None:
    """Orphans below us (the LangGraph server, detached by start_langgraph.sh) become our children, so we can
    reap them instead of leaving zombies for init (Linux prctl PR_SET_CHILD_SUBREAPER; best effort)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_loopback(url: str, what: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise SystemExit(f"{what} must be on loopback, got {host!r}")


class Processes:
    """Every process group this script started; :meth:`stop_all` ends exactly those."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, int, subprocess.Popen[bytes] | None]] = []

    def spawn(self, name: str, cmd: list[str], *, env: dict[str, str], log_path: Path,
              cwd: Path = ROOT) -> subprocess.Popen[bytes]:
        with log_path.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.groups.append((name, proc.pid, proc))
        return proc

    def adopt(self, name: str, pid: int) -> None:
        """A process a script of ours started in its own session (setsid): ours to stop as well."""
        try:
            leader = os.getpgid(pid) == pid
        except ProcessLookupError:
            return
        if not leader:  # cannot be stopped as a group: stop it now rather than leak it
            log(f"{name} (pid {pid}) does not lead its own process group; stopping it")
            os.kill(pid, signal.SIGTERM)
            return
        self.groups.append((name, pid, None))

    @staticmethod
    def _group_alive(pgid: int, proc: subprocess.Popen[bytes] | None) -> bool:
        """Any process of the group still running (zombies do not count; our own child is reaped)."""
        if proc is not None and proc.poll() is None:
            return True
        if proc is None:  # adopted: our child too when we are its subreaper; reap it if it has ended
            try:
                os.waitpid(pgid, os.WNOHANG)
            except ChildProcessError:
                pass
        return bool(group_members(pgid))

    @staticmethod
    def _signal(pgid: int, sig: int, group: bool) -> None:
        # pgid is the id of a group (session) we created, so it names only our processes: a pid is not
        # reused while a process group of that id still has members
        try:
            os.killpg(pgid, sig) if group else os.kill(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, name: str, grace: float = 15.0) -> None:
        for item in [g for g in self.groups if g[0] == name]:
            self._stop_one(item, grace)
            self.groups.remove(item)

    def _stop_one(self, item: tuple[str, int, subprocess.Popen[bytes] | None], grace: float) -> None:
        _, pgid, proc = item
        # the leader first (uv forwards the signal to its child), then the group, then SIGKILL
        for sig, group, wait in ((signal.SIGTERM, False, grace), (signal.SIGTERM, True, 5.0), (signal.SIGKILL, True, 5.0)):
            if not self._group_alive(pgid, proc):
                break
            self._signal(pgid, sig, group)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self._group_alive(pgid, proc):
                time.sleep(0.05)
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stop_all(self) -> None:
        for item in reversed(list(self.groups)):
            try:
                self._stop_one(item, 10.0)
            except Exception as exc:  # keep stopping the others
                log(f"could not stop {item[0]} (pid {item[1]}): {exc}")
        self.groups.clear()


class CpuSampler(threading.Thread):
    """utime+stime of some pids every ``every`` seconds, stamped with time.time()."""

    def __init__(self, pids: list[int], every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.samples: list[tuple[float, dict[int, float]]] = []
        self._halt = threading.Event()

    def _take(self) -> None:
        self.samples.append((time.time(), {p: cpu_s(p) or 0.0 for p in self.pids}))

    def run(self) -> None:
        while not self._halt.is_set():
            self._take()
            self._halt.wait(self.every)

    def finish(self) -> None:
        self._halt.set()
        self.join()
        self._take()

    def at(self, t: float, pids: list[int] | None = None) -> float:
        """Summed CPU seconds of ``pids`` at wall time ``t`` (linear between samples)."""
        pids = pids or self.pids
        total = [(ts, sum(v.get(p, 0.0) for p in pids)) for ts, v in self.samples]
        if t <= total[0][0]:
            return total[0][1]
        for (t0, c0), (t1, c1) in zip(total, total[1:]):
            if t <= t1:
                return c0 + (c1 - c0) * ((t - t0) / (t1 - t0) if t1 > t0 else 1.0)
        return total[-1][1]


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({proc.returncode}):\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- databases


def _sqlite_epoch(text: str | None) -> float | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


class SqliteProbe:
    """Read-only questions to the embedded SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    @staticmethod
    def _mark(since: float) -> str:
        return dt.datetime.fromtimestamp(since, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def runs_since(self, since: float) -> dict[str, Any]:
        rows = self._rows("SELECT status, count(*), min(created_at), max(created_at), max(completed_at) "
                          "FROM runs WHERE created_at >= ? GROUP BY status", (self._mark(since),))
        return _fold_runs([(s, n, _sqlite_epoch(a), _sqlite_epoch(b), _sqlite_epoch(c)) for s, n, a, b, c in rows])

    def busy_sessions(self) -> int:
        return int(self._rows("SELECT count(*) FROM chat_sessions WHERE task_status IS NOT NULL")[0][0])

    def session_ids_since(self, since: float) -> list[str]:
        return [r[0] for r in self._rows("SELECT id FROM chat_sessions WHERE created_at >= ?", (self._mark(since),))]

    def close(self) -> None:
        pass


class PostgresProbe:
    """The same questions through one long-lived psql (libpq URL; no driver needed here)."""

    def __init__(self, url: str, err_log: Path) -> None:
        self.url, self.err_log = url, err_log
        self._proc: subprocess.Popen[str] | None = None

    def _rows(self, sql: str) -> list[list[str]]:
        if self._proc is None or self._proc.poll() is not None:
            with self.err_log.open("a") as err:
                self._proc = subprocess.Popen(["psql", self.url, "-X", "-q", "-At", "-F", "|"], stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __end__\n")
        self._proc.stdin.flush()
        rows = []
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            if line == "__end__":
                return rows
            if line:
                rows.append(line.split("|"))
        raise RuntimeError(f"psql exited:\n{tail(self.err_log)}")

    def runs_since(self, since: float) -> dict[str, Any]:
        rows = self._rows("SELECT status, count(*), extract(epoch from min(created_at)), extract(epoch from "
                          "max(created_at)), extract(epoch from max(completed_at)) FROM runs "
                          f"WHERE created_at >= to_timestamp({since:.6f}) GROUP BY status")
        f = lambda v: float(v) if v else None  # noqa: E731
        return _fold_runs([(s, int(n), f(a), f(b), f(c)) for s, n, a, b, c in rows])

    def busy_sessions(self) -> int:
        return int(self._rows("SELECT count(*) FROM chat_sessions WHERE task_status IS NOT NULL")[0][0])

    def session_ids_since(self, since: float) -> list[str]:
        return [r[0] for r in self._rows(f"SELECT id FROM chat_sessions WHERE created_at >= to_timestamp({since:.6f})")]

    def run_ids(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT id FROM runs")]

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._proc.communicate(input="\\q\n", timeout=10)
            except (subprocess.TimeoutExpired, OSError, ValueError):
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def _fold_runs(rows: list[tuple[str, int, float | None, float | None, float | None]]) -> dict[str, Any]:
    by_status = {s: n for s, n, *_ in rows}
    firsts = [a for _, _, a, _, _ in rows if a is not None]
    lasts = [b for _, _, _, b, _ in rows if b is not None]
    done = [c for _, _, _, _, c in rows if c is not None]
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "not_terminal": sum(n for s, n in by_status.items() if s not in TERMINAL),
        "first_created": min(firsts) if firsts else None,
        "last_created": max(lasts) if lasts else None,
        "last_completed": max(done) if done else None,
    }


def libpq_url(url: str, database: str | None = None) -> str:
    """postgresql+asyncpg://u@h:p/db -> postgresql://u@h:p/<database or db>."""
    parts = urllib.parse.urlsplit(url)
    path = f"/{database}" if database is not None else parts.path
    return urllib.parse.urlunsplit(("postgresql", parts.netloc, path, parts.query, parts.fragment))


def services_env() -> dict[str, str]:
    """TEST_DATABASE_URL / TEST_REDIS_URL from the environment, else from scripts/services.sh."""
    found = {k: os.environ[k] for k in ("TEST_DATABASE_URL", "TEST_REDIS_URL") if os.environ.get(k)}
    if len(found) == 2:
        return found
    log("TEST_DATABASE_URL / TEST_REDIS_URL not set: running scripts/services.sh")
    out = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh")], check=True, capture_output=True,
                         text=True, timeout=600).stdout
    for line in out.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            found[k] = v
    return found


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    kind: str  # ours | arq | langgraph | bare
    url: str
    api_key: str
    pids: list[int]  # every process that serves or runs turns
    api_pid: int
    probe: SqliteProbe | PostgresProbe | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ctx:
    args: argparse.Namespace
    tmp: Path
    procs: Processes
    uv: str
    cleanups: list[Any] = field(default_factory=list)  # callables run at exit, last first


def ours_env(data_dir: Path, **extra: str) -> dict[str, str]:
    drop = ("DATABASE_URL", "TASK_BACKEND", "REDIS_URL", "LLM_MODEL", "TRIGGER_SECRET_KEY", "TRIGGER_API_URL",
            "OPENAI_BASE_URL", "PROMETHEUS_MULTIPROC_DIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_CHAT_") and k not in drop}
    env.update(CAMPAIGN_CHAT_DATA_DIR=str(data_dir), CAMPAIGN_CHAT_RATE_LIMIT_PER_MINUTE="0")
    env.update(extra)
    return env


def cc(ctx: Ctx, *args: str) -> list[str]:
    return [ctx.uv, "run", "--frozen", "--project", str(ROOT), "campaign-chat", *args]


def create_key(ctx: Ctx, env: dict[str, str]) -> str:
    out = subprocess.run(cc(ctx, "keys", "create", "--label", "compare-peers"), cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return out.strip().splitlines()[-1].strip()


def python_children(root: int) -> list[int]:
    """The processes below ``uv run`` that do the work (uv itself only waits); ``root`` if it has none."""
    return [p for p in descendants(root) if p != root and comm(p) != "uv"] or [root]


def start_ours(ctx: Ctx) -> Server:
    data = ctx.tmp / "ours"
    env = ours_env(data, **dict(item.split("=", 1) for item in ctx.args.ours_env))
    port = free_port()
    log_path = ctx.tmp / "ours.log"
    proc = ctx.procs.spawn("ours", cc(ctx, "serve", "--host", "127.0.0.1", "--port", str(port)), env=env,
                           log_path=log_path)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", proc, 90, log_path)
    key = create_key(ctx, env)
    pids = python_children(proc.pid)
    log(f"ours (embedded) on {url}, pids {pids}")
    return Server("ours", url, key, pids, pids[0], SqliteProbe(data / "campaign-chat.db"))


def start_arq(ctx: Ctx) -> Server:
    svc = services_env()
    base_db, redis_url = svc["TEST_DATABASE_URL"], svc["TEST_REDIS_URL"]
    require_loopback(base_db, "TEST_DATABASE_URL")
    require_loopback(redis_url, "TEST_REDIS_URL")
    name = f"cc_peers_{uuid.uuid4().hex[:10]}"
    admin = libpq_url(base_db, "postgres")
    subprocess.run(["psql", admin, "-X", "-q", "-c", f'CREATE DATABASE "{name}"'], check=True, timeout=60,
                   capture_output=True)
    db_url = urllib.parse.urlunsplit(urllib.parse.urlsplit(base_db)._replace(path=f"/{name}"))
    probe = PostgresProbe(libpq_url(db_url), ctx.tmp / "psql.log")
    queue = f"cc-peers-{uuid.uuid4().hex}"

    def cleanup() -> None:
        try:
            run_ids = probe.run_ids()
        except (subprocess.SubprocessError, OSError, RuntimeError):
            run_ids = []
        probe.close()
        redis_cleanup(redis_url, queue, run_ids)
        subprocess.run(["psql", admin, "-X", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                       timeout=60, capture_output=True)
        log(f"dropped database {name}, deleted queue {queue} and its runs' ARQ keys")

    ctx.cleanups.append(cleanup)
    env = ours_env(ctx.tmp / "arq", DATABASE_URL=db_url, TASK_BACKEND="arq", REDIS_URL=redis_url,
                   CAMPAIGN_CHAT_ARQ_QUEUE_NAME=queue)
    subprocess.run(cc(ctx, "migrate"), cwd=ROOT, env=env, check=True, capture_output=True, timeout=180)
    port = free_port()
    api_log, worker_log = ctx.tmp / "arq-api.log", ctx.tmp / "arq-worker.log"
    api = ctx.procs.spawn("arq-api", cc(ctx, "serve", "--host", "127.0.0.1", "--port", str(port)), env=env,
                          log_path=api_log)
    worker = ctx.procs.spawn("arq-worker", cc(ctx, "worker"), env=env, log_path=worker_log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", api, 90, api_log)
    deadline = time.monotonic() + 90
    while not redis_exists(redis_url, f"{queue}:health-check"):
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{tail(worker_log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not report healthy:\n{tail(worker_log)}")
        time.sleep(0.1)
    key = create_key(ctx, env)
    api_pids, worker_pids = python_children(api.pid), python_children(worker.pid)
    log(f"ours (arq) on {url}, API pids {api_pids}, worker pids {worker_pids}, database {name}, queue {queue}")
    return Server("arq", url, key, api_pids + worker_pids, api_pids[0], probe, {"database": name, "queue": queue})


def _redis(redis_url: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["redis-cli", "-u", redis_url, *args], input=stdin, check=True, capture_output=True,
                          text=True, timeout=60).stdout


def redis_exists(redis_url: str, key: str) -> bool:
    return _redis(redis_url, "EXISTS", key).strip() == "1"


def redis_cleanup(redis_url: str, queue: str, run_ids: list[str]) -> None:
    """Delete this bench's queue keys and its runs' ARQ keys; nobody else's."""
    keys = [k for k in _redis(redis_url, "--scan", "--pattern", f"{queue}*").splitlines() if k]
    keys += [f"arq:{kind}:{rid}" for rid in run_ids for kind in ("job", "result", "retry", "in-progress")]
    for start in range(0, len(keys), 500):
        _redis(redis_url, "DEL", *keys[start:start + 500])
    for start in range(0, len(run_ids), 500):
        _redis(redis_url, "ZREM", "arq:abort", *run_ids[start:start + 500])


def start_langgraph(ctx: Ctx) -> Server:
    peers, venvs = ctx.args.peers_dir, ctx.args.venvs
    port = free_port()
    workdir = ctx.tmp / "langgraph" / f"app-{port}"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(VENV=str(venvs / "peer"), LG_JOBS=str(ctx.args.lg_jobs), WORKDIR=str(workdir))
    pid_file = Path(f"{workdir}.pid")
    try:
        out = subprocess.run(["bash", str(peers / "start_langgraph.sh"), str(port)], env=env, capture_output=True,
                             text=True, timeout=120)
    finally:
        if pid_file.exists():  # the script detaches the server (setsid): adopt it whatever happened
            ctx.procs.adopt("langgraph", int(pid_file.read_text().strip()))
    if out.returncode != 0:
        raise RuntimeError(f"start_langgraph.sh failed:\n{out.stdout}\n{out.stderr}")
    pid = int(pid_file.read_text().strip())
    log(f"LangGraph on 127.0.0.1:{port}: {out.stdout.strip()}")
    pids = descendants(pid)
    return Server("langgraph", f"http://127.0.0.1:{port}", "", pids, pid, extra={"start": out.stdout.strip()})


def start_bare(ctx: Ctx) -> Server:
    port = free_port()
    log_path = ctx.tmp / "bare.log"
    cmd = [str(ctx.args.venvs / "bare" / "bin" / "python"), str(ctx.args.peers_dir / "bare_limit_app.py"),
           "--host", "127.0.0.1", "--port", str(port), "--db", "sqlite",
           "--sqlite-path", str(ctx.tmp / "bare.db"), "--api-key", BARE_KEY]
    proc = ctx.procs.spawn("bare", cmd, env=dict(os.environ), log_path=log_path)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", proc, 60, log_path)
    pids = descendants(proc.pid)
    log(f"bare floor on {url}, pids {pids}")
    return Server("bare", url, BARE_KEY, pids, proc.pid)


STARTERS = {"ours": start_ours, "arq": start_arq, "langgraph": start_langgraph, "bare": start_bare}


# --------------------------------------------------------------------------- runs


def harness(ctx: Ctx, server: Server, scenario: list[str], label: str) -> dict[str, Any]:
    target = "langgraph" if server.kind == "langgraph" else "campaign-chat"
    cmd = [str(ctx.args.harness_python), str(ctx.args.peers_dir / "turn_load.py"), "--target", target,
           "--base-url", server.url, "--label", label, *scenario]
    for pid in server.pids:
        cmd += ["--server-pid", str(pid)]
    env = {k: v for k, v in os.environ.items() if k != "BENCH_API_KEY"}
    if server.api_key:
        env["BENCH_API_KEY"] = server.api_key  # not on the command line
    log_path = ctx.tmp / "harness.log"
    proc = ctx.procs.spawn("harness", cmd, env=env, log_path=log_path)
    try:
        proc.wait(timeout=ctx.args.run_timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"turn_load.py ran longer than --run-timeout {ctx.args.run_timeout}s") from None
    finally:
        ctx.procs.stop("harness")
    text = log_path.read_text(errors="replace")
    log_path.unlink()
    doc = next((json.loads(line) for line in text.splitlines() if line.startswith("{")), None)
    if proc.returncode != 0 or doc is None:
        raise RuntimeError(f"turn_load.py failed ({proc.returncode}):\n{text[-3000:]}")
    return doc


def wait_drained(server: Server, since: float, accepted: int, timeout: float
                 ) -> tuple[float | None, dict[str, Any], int]:
    """Read the database every 50 ms until no session is busy and every run since ``since`` is terminal.

    Returns when that was first seen (None: not within ``timeout``), the runs and the busy count then."""
    assert server.probe is not None
    give_up = time.time() + timeout
    while True:
        seen = time.time()
        runs = server.probe.runs_since(since)
        busy = server.probe.busy_sessions()
        if runs["not_terminal"] == 0 and runs["total"] >= accepted and busy == 0:
            return seen, runs, busy
        if seen > give_up:
            return None, runs, busy
        time.sleep(0.05)


def delete_sessions(server: Server, ids: list[str]) -> int:
    """DELETE the storm's sessions through the API, as the harness does for the peers; returns failures."""

    def one(sid: str) -> bool:
        req = urllib.request.Request(f"{server.url}/api/campaigns/ai-chat-sessions/{sid}", method="DELETE",
                                     headers={"Authorization": f"Bearer {server.api_key}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return 200 <= r.status < 300
        except (urllib.error.URLError, OSError):
            return False

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return sum(1 for ok in pool.map(one, ids) if not ok)


def run_storm(ctx: Ctx, server: Server, callers: int, sessions: int, label: str) -> dict[str, Any]:
    scenario = ["--scenario", "storm", "--sessions", str(callers), "--storm-sessions", str(sessions)]
    if server.probe is None:  # the peers: the harness as the README runs it (it drains by polling, then cleans up)
        return {"harness": harness(ctx, server, [*scenario, "--turn-timeout", str(ctx.args.drain_timeout)], label)}
    # Ours: the harness times the storm only (--turn-timeout 0: no drain polling; --no-cleanup), then this
    # script reads the database until every turn is done, so the drain carries no polling load.
    sampler = CpuSampler(server.pids)
    since = time.time() - 0.001
    sampler.start()
    try:
        doc = harness(ctx, server, [*scenario, "--turn-timeout", "0", "--no-cleanup"], label)
        r = doc["results"][0]
        drained_at, runs, busy = wait_drained(server, since, r["dispatch"]["accepted"], ctx.args.drain_timeout)
    finally:
        sampler.finish()
    extra: dict[str, Any] = {"runs": runs, "busy_sessions_after": busy, "drained": drained_at is not None}
    t0 = runs["first_created"]  # the first claim: the storm's start, give or take the first request's trip
    if t0 is not None:
        storm_end = t0 + r["elapsed_s"]
        end = drained_at if drained_at is not None else time.time()
        n = max(1, r["dispatch"]["accepted"])
        total = sampler.at(end) - sampler.at(t0)
        api = [server.api_pid]
        extra.update(
            drain_s=round(max(0.0, end - storm_end), 3),
            last_completed_after_storm_s=round(runs["last_completed"] - storm_end, 3) if runs["last_completed"] else None,
            cpu_until_drained_s=round(total, 3),
            cpu_until_drained_ms_per_turn=round(total * 1000 / n, 2),
            api_cpu_until_drained_s=round(sampler.at(end, api) - sampler.at(t0, api), 3),
            api_cpu_storm_ms_per_dispatch=round((sampler.at(storm_end, api) - sampler.at(t0, api)) * 1000 / n, 2),
        )
    ids = server.probe.session_ids_since(since)
    extra["cleanup_failures"] = delete_sessions(server, ids)
    return {"harness": doc, "ours": extra}


def run_sessions(ctx: Ctx, server: Server, sessions: int, duration: float, label: str) -> dict[str, Any]:
    scenario = ["--scenario", "sessions", "--sessions", str(sessions), "--poll-ms", str(ctx.args.poll_ms),
                "--duration", str(duration)]
    return {"harness": harness(ctx, server, scenario, label)}


def best_wall_ms(cmd: list[str], env: dict[str, str], times: int) -> tuple[float, list[float]]:
    walls = []
    for _ in range(times):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
        walls.append((time.perf_counter() - t) * 1000)
    return min(walls), [round(w, 1) for w in walls]


def run_cli(ctx: Ctx, times: int) -> dict[str, Any]:
    env = ours_env(ctx.tmp / "cli")
    entry = subprocess.run([ctx.uv, "run", "--frozen", "--project", str(ROOT), "python", "-c",
                            "import shutil; print(shutil.which('campaign-chat'))"], cwd=ROOT, env=env, check=True,
                           capture_output=True, text=True, timeout=120).stdout.strip()
    out: dict[str, Any] = {"entry_point": Path(entry).name}
    for key, cmd in (("help", [entry, "--help"]), ("help_uv_run", cc(ctx, "--help")),
                     ("keys_create", [entry, "keys", "create", "--label", "compare-peers"])):
        best, walls = best_wall_ms(cmd, env, times)
        out[key] = {"best_ms": round(best, 1), "walls_ms": walls}
    return out


# --------------------------------------------------------------------------- table


def _metrics(kind: str, storms: list[dict[str, Any]], sess: list[dict[str, Any]], cli: dict[str, Any] | None
             ) -> dict[str, Any]:
    """Per target: each metric's values over the measured rounds."""
    m: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        m.setdefault(key, []).append(value)

    for run in storms:
        r = run["harness"]["results"][0]
        d, srv = r["dispatch"], r["server"]
        put("storm_rate", d["accepted_per_s"])
        put("storm_p50", (d["lat_ms"] or {}).get("p50"))
        put("storm_p99", (d["lat_ms"] or {}).get("p99"))
        put("storm_cpu", r.get("server_cpu_ms_per_turn"))
        put("storm_rss", srv["rss_kb"]["peak"] / 1024 if srv.get("rss_kb") else None)
        all2xx = d["errors"] == 0 and d["busy_409"] == 0 and d["accepted"] == r["storm_sessions"]
        put("storm_all_2xx", (all2xx, f"{d['accepted']}/{r['storm_sessions']} 2xx"))
        ours = run.get("ours")
        if ours is not None:
            runs = ours["runs"]
            ok = runs["by_status"].get("COMPLETED_SUCCESSFULLY", 0)
            finished = ours["drained"] and ok == d["accepted"] == runs["total"] and ours["busy_sessions_after"] == 0
            detail = f"{ok}/{d['accepted']} runs succeeded"
            if ours["busy_sessions_after"]:
                detail += f", {ours['busy_sessions_after']} sessions still busy"
            put("storm_finished", (finished, detail))
            put("storm_drain", ours.get("drain_s"))
            put("storm_cpu_drained", ours.get("cpu_until_drained_ms_per_turn"))
            if kind == "arq":
                put("storm_cpu_api", ours.get("api_cpu_storm_ms_per_dispatch"))
        else:
            idle = r["drained_idle"]
            put("storm_finished", (idle == d["accepted"], f"{idle}/{d['accepted']} sessions idle again"))
            put("storm_drain", r["drain_s"])
    for run in sess:
        r = run["harness"]["results"][0]
        srv = r["server"]
        put("sess_done", r["turns_completed_per_s"])
        put("sess_e2e_p50", (r["e2e_ms"] or {}).get("p50"))
        put("sess_e2e_p99", (r["e2e_ms"] or {}).get("p99"))
        put("sess_cpu", srv.get("cpu_s"))
        put("sess_cpu_turn", r.get("server_cpu_ms_per_turn"))
        put("sess_rss", srv["rss_kb"]["peak"] / 1024 if srv.get("rss_kb") else None)
        bad = r["dispatch"]["errors"] + r["turn_timeouts"] + sum(r["failed_turns"].values())
        put("sess_ok", (bad == 0, f"{bad} errors/failed/timeouts"))
    if cli:
        put("cli_help", cli["help"]["best_ms"])
        put("cli_help_uv", cli["help_uv_run"]["best_ms"])
        put("cli_keys", cli["keys_create"]["best_ms"])
    return m


# key, label, how: "max" / "min" (best of N) or "all" (a yes/no that must hold in every round), format, ratio?
ROWS = [
    ("storm_rate", "storm: dispatches/s", "max", "{:.1f}", True),
    ("storm_p50", "storm: dispatch p50, ms", "min", "{:.1f}", True),
    ("storm_p99", "storm: dispatch p99, ms", "min", "{:.1f}", True),
    ("storm_cpu", "storm: server CPU per dispatch, ms ¹", "min", "{:.2f}", True),
    ("storm_cpu_api", "storm: API process only, CPU per dispatch, ms ¹", "min", "{:.2f}", True),
    ("storm_rss", "storm: server RSS peak, MB ¹", "min", "{:.0f}", True),
    ("storm_all_2xx", "storm: every dispatch 2xx", "all", "", False),
    ("storm_finished", "storm: every accepted turn finished afterwards ²", "all", "", False),
    ("storm_drain", "storm: time to drain, s ³", "min", "{:.2f}", False),
    ("storm_cpu_drained", "storm: CPU from first dispatch until drained, ms per turn ⁴", "min", "{:.1f}", False),
    ("sess_done", "sessions: turns done/s", "max", "{:.1f}", True),
    ("sess_e2e_p50", "sessions: turn end-to-end p50, ms", "min", "{:.0f}", True),
    ("sess_e2e_p99", "sessions: turn end-to-end p99, ms", "min", "{:.0f}", True),
    ("sess_cpu", "sessions: server CPU in the window, s", "min", "{:.2f}", True),
    ("sess_cpu_turn", "sessions: server CPU per accepted turn, ms", "min", "{:.1f}", True),
    ("sess_rss", "sessions: server RSS peak, MB", "min", "{:.0f}", True),
    ("sess_ok", "sessions: no dispatch error, failed turn or timeout", "all", "", False),
    ("cli_help", "`campaign-chat --help`, wall ms ⁵", "min", "{:.0f}", False),
    ("cli_help_uv", "`uv run campaign-chat --help`, wall ms ⁵", "min", "{:.0f}", False),
    ("cli_keys", "`campaign-chat keys create`, wall ms ⁵", "min", "{:.0f}", False),
]

NOTES = """\
Ratio = ours ÷ peer (throughput: higher is better; latency, CPU, RSS: lower is better). Each figure is the
best of the N rounds; a yes/no must hold in every round.
¹ turn_load.py over the timed storm window, summed over every --server-pid (ours: the API and its worker
  process, the embedded one or the ARQ one), so turns running during the window count here; with arq the worker's share is in the first row, the API's alone in the "API process only" row.
² ours: every run the storm created ended COMPLETED_SUCCESSFULLY and no session was left busy (read from
  the database); peers: turn_load.py saw every session idle again after the storm.
³ ours: storm end → no session busy and every run terminal, the database read every 50 ms, no HTTP polling
  (turn_load.py runs with --turn-timeout 0 --no-cleanup; the sessions are deleted afterwards); peers:
  turn_load.py's own drain (100 callers poll every session until idle, 50 ms apart). Different methods: no ratio.
⁴ CPU of every process that runs turns (API, worker) from the first claim to drained, over accepted turns.
⁵ best of {cli} runs; the venv's entry point, and through `uv run --frozen`; keys create on a fresh SQLite
  data dir (the first run migrates it)."""


def best(values: list[Any], how: str) -> Any:
    if how == "all":
        bad = [v for v in values if not v[0]]
        return (not bad, (bad or values)[0][1], len(bad))
    nums = [v for v in values if v is not None]
    if not nums:
        return None
    return max(nums) if how == "max" else min(nums)


def render(per_target: dict[str, dict[str, Any]], targets: list[str], rounds: int, cli_times: int) -> str:
    ours_kinds = [t for t in targets if t in ("ours", "arq")]
    peers = [t for t in targets if t in ("bare", "langgraph")]
    ratio_cols = [(o, p) for o in ours_kinds for p in ("bare", "langgraph") if p in peers]
    head = ["figure (best of %d)" % rounds, *(LABELS[t] for t in targets),
            *(f"{'ours' if o == 'ours' else 'arq'}/{'bare' if p == 'bare' else 'LangGraph'}" for o, p in ratio_cols)]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for key, label, how, fmt, ratio in ROWS:
        if not any(per_target.get(t, {}).get(key) for t in targets):
            continue
        vals = {t: best(per_target[t][key], how) if per_target.get(t, {}).get(key) else None for t in targets}
        cells = []
        for t in targets:
            v = vals[t]
            if v is None:
                cells.append("–")
            elif how == "all":
                ok, detail, nbad = v
                cells.append(("yes" if ok else f"**no** ({nbad} of {rounds} rounds)") + f": {detail}")
            else:
                cells.append(fmt.format(v))
        for o, p in ratio_cols:
            a, b = vals[o], vals[p]
            cells.append(f"{a / b:.2f}×" if ratio and a is not None and b else "–")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    tmpdir = Path(os.environ.get("TMPDIR") or "/tmp")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peers-dir", type=Path,
                   default=Path(os.environ.get("BENCH_PEERS_DIR") or ROOT.parent / "shared" / "bench-peers"),
                   help="turn_load.py, bare_limit_app.py, start_langgraph.sh (env BENCH_PEERS_DIR; "
                        "default ../shared/bench-peers next to the repo)")
    p.add_argument("--venvs", type=Path, default=Path(os.environ.get("BENCH_PEERS_VENVS") or tmpdir / "bench-peers"),
                   help="holds the `peer` and `bare` venvs (env BENCH_PEERS_VENVS; default $TMPDIR/bench-peers)")
    p.add_argument("--harness-python", type=Path, default=None,
                   help="python with httpx for turn_load.py (default: VENVS/bare/bin/python)")
    p.add_argument("--uv", default=os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv"),
                   help="uv for `uv run campaign-chat` (env UV; default: on PATH, else .tools/bin/uv)")
    p.add_argument("--rounds", "-n", type=int, default=2, help="measured rounds N, best of N is reported (>= 2)")
    p.add_argument("--quick", action="store_true", help="smoke: N=1 and small sizes")
    p.add_argument("--arq", action="store_true", help="also ours with TASK_BACKEND=arq + one worker (Redis, PostgreSQL)")
    p.add_argument("--targets", default="ours,langgraph,bare", help="comma list of ours, langgraph, bare, arq")
    p.add_argument("--scenarios", default="storm,sessions,cli", help="comma list of storm, sessions, cli")
    p.add_argument("--storm-callers", type=int, default=100)
    p.add_argument("--storm-sessions", type=int, default=2000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--poll-ms", type=float, default=10.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--cli-times", type=int, default=5)
    p.add_argument("--ours-env", action="append", default=[], metavar="NAME=VALUE",
                   help="a setting for ours (embedded), e.g. CAMPAIGN_CHAT_EMBEDDED_WORKER_NICE=0; repeatable")
    p.add_argument("--lg-jobs", type=int, default=100, help="LG_JOBS for start_langgraph.sh (100 = tuned)")
    p.add_argument("--no-warmup", action="store_true")
    p.add_argument("--settle-s", type=float, default=2.0, help="pause between runs")
    p.add_argument("--drain-timeout", type=float, default=600.0, help="bound on waiting for a storm's turns")
    p.add_argument("--run-timeout", type=float, default=1800.0, help="bound on one turn_load.py run")
    p.add_argument("--json-out", type=Path, default=None, help="append raw JSON lines (one per run + a summary)")
    p.add_argument("--keep-tmp", action="store_true", help="keep the scratch dir (logs, databases)")
    a = p.parse_args(argv)
    if a.quick:
        a.rounds = 1
        a.storm_sessions = min(a.storm_sessions, 300)
        a.duration = min(a.duration, 3.0)
        a.cli_times = min(a.cli_times, 2)
        a.settle_s = min(a.settle_s, 0.5)
    elif a.rounds < 2:
        p.error("--rounds must be >= 2 (use --quick for a single smoke round)")
    a.targets = [t for t in ("ours", "langgraph", "bare", "arq")
                 if t in {x.strip() for x in a.targets.split(",")} or (t == "arq" and a.arq)]
    a.scenarios = {x.strip() for x in a.scenarios.split(",") if x.strip()}
    a.peers_dir = a.peers_dir.resolve()
    a.harness_python = a.harness_python or a.venvs / "bare" / "bin" / "python"
    for need in (a.peers_dir / "turn_load.py", a.harness_python):
        if not need.exists():
            p.error(f"{need} not found (see --peers-dir / --venvs and the bench-peers README)")
    return a


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    become_subreaper()
    tmp = Path(tempfile.mkdtemp(prefix="compare-peers-"))
    ctx = Ctx(args, tmp, Processes(), args.uv)
    load_before = loadavg()
    log(f"load average before: {load_before}; scratch dir {tmp}")
    records: list[dict[str, Any]] = []
    failed = False

    def record(rec: dict[str, Any]) -> None:
        records.append(rec)
        if args.json_out:
            with args.json_out.open("a") as f:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")

    try:
        # The environment as the README's scripts leave it (installed, modules compiled once): a start-up
        # figure should not measure compiling every module from source (PYTHONDONTWRITEBYTECODE machines).
        subprocess.run(["bash", str(ROOT / "scripts" / "bootstrap.sh")], cwd=ROOT, check=True, timeout=900,
                       env={**os.environ, "UV": ctx.uv})
        cli = None
        if "cli" in args.scenarios:
            log(f"CLI wall times, best of {args.cli_times}")
            cli = run_cli(ctx, args.cli_times)
            record({"kind": "cli", **cli})
        servers = {t: STARTERS[t](ctx) for t in args.targets}
        plan = [] if args.no_warmup else [("warm-up", min(args.storm_sessions, 200), min(args.duration, 3.0))]
        plan += [(f"round {i}", args.storm_sessions, args.duration) for i in range(1, args.rounds + 1)]
        for name, storm_n, duration in plan:
            for scenario in ("storm", "sessions"):
                if scenario not in args.scenarios:
                    continue
                for t in args.targets:
                    label = f"compare-peers {LABELS[t]} {name}"
                    log(f"{name}: {scenario} on {LABELS[t]}")
                    if scenario == "storm":
                        res = run_storm(ctx, servers[t], args.storm_callers, storm_n, label)
                        r = res["harness"]["results"][0]
                        ours = res.get("ours", {})
                        log(f"  {r['dispatch']['accepted_per_s']} dispatches/s, p50 "
                            f"{(r['dispatch']['lat_ms'] or {}).get('p50')} ms, CPU/dispatch "
                            f"{r.get('server_cpu_ms_per_turn')} ms, drain {ours.get('drain_s', r['drain_s'])} s"
                            + (f", CPU until drained {ours.get('cpu_until_drained_ms_per_turn')} ms/turn, runs "
                               f"{ours['runs']['by_status']}" if ours else ""))
                    else:
                        res = run_sessions(ctx, servers[t], args.sessions, duration, label)
                        r = res["harness"]["results"][0]
                        log(f"  {r['turns_completed_per_s']} turns done/s, e2e p50 {(r['e2e_ms'] or {}).get('p50')} ms")
                    record({"kind": "run", "target": t, "round": name, "scenario": scenario,
                            "warmup": name == "warm-up", **res})
                    time.sleep(args.settle_s)
        load_after = loadavg()
        per_target = {}
        for t in args.targets:
            measured = [r for r in records if r.get("kind") == "run" and r["target"] == t and not r["warmup"]]
            per_target[t] = _metrics(t, [r for r in measured if r["scenario"] == "storm"],
                                     [r for r in measured if r["scenario"] == "sessions"],
                                     cli if t == next((k for k in args.targets if k in ("ours", "arq")), None) else None)
        table = render(per_target, args.targets, args.rounds, args.cli_times)
        run_loads = [x for r in records if r.get("kind") == "run" and not r["warmup"]
                     for x in (r["harness"]["results"][0].get("loadavg") or {}).values() if x]
        load_1min = [x[0] for x in run_loads]
        record({"kind": "summary", "rounds": args.rounds, "quick": args.quick, "targets": args.targets,
                "run_loadavg_1min": [min(load_1min), max(load_1min)] if load_1min else None,
                "loadavg_before": load_before, "loadavg_after": load_after, "nproc": os.cpu_count(),
                "table": table, "metrics": per_target})
        print(table)
        print()
        print(NOTES.format(cli=args.cli_times))
        print(f"{args.rounds} round(s){' after a warm-up round' if not args.no_warmup else ', no warm-up'}; storm "
              f"{args.storm_callers} callers × {args.storm_sessions} sessions; sessions {args.sessions} × poll "
              f"{args.poll_ms:g} ms × {args.duration:g} s; {os.cpu_count()} CPUs; load average before "
              f"{' '.join(map(str, load_before))}, after {' '.join(map(str, load_after))}"
              + (f"; 1-min load at the measured runs' start/end {min(load_1min):.2f}–{max(load_1min):.2f}"
                 if load_1min else ""))
        return 0
    except BaseException as exc:
        failed = True
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            log(f"interrupted ({type(exc).__name__}); stopping everything")
        else:
            log(f"failed: {exc}")
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ctx.procs.stop_all()
        for cleanup in reversed(ctx.cleanups):
            try:
                cleanup()
            except Exception as exc:
                log(f"cleanup failed: {exc}")
        if args.keep_tmp or failed:
            log(f"scratch dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
