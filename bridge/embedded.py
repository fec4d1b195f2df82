"""Embedded backend, dispatch side (``TASK_BACKEND=inline``, the default of ``serve``).

Turns run in a worker process the API starts and watches (:mod:`bridge.embedded_worker`), so the API's
event loop only accepts work: a burst of turns queues in the worker, the accept path stays fast.
Nothing to set up: no Redis, no separate command. One socket pair links the two processes, one JSON
object per line:

    API -> worker   {"go": true}                   the database is ready: pick up pending runs, then run
                    {"run": <task payload>}        run it (the run row is already PENDING)
                    {"cancel": <run id>}           stop it if it runs here; the worker answers
                    {"stop": true}                 shut down: grace, then interrupt what still runs
    worker -> API   {"wake": <run id>}             a run changed: wake this API's subscribers
                    {"canceled": <run id>, "found": bool}

The database is the queue's source of truth: a run is dispatched by being committed PENDING, and the
worker, whenever it starts, first picks up every PENDING run of this backend. So a worker that died
(it is restarted) or an API restart loses no accepted turn; a run whose worker died while it ran
loses its heartbeat and the lease reaper ends it. With ``CAMPAIGN_CHAT_EMBEDDED_WORKER=false`` turns run
on the API's own loop instead (:mod:`bridge.inline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import msgspec

from bridge.base import Dispatched
from bridge.tokens import TokenSigner
from core.errors import DispatchError
from core.payloads import TaskPayload
from core.settings import Settings

log = logging.getLogger("campaign_chat.bridge.embedded")

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
CANCEL_TIMEOUT_SECONDS = 15.0
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class EmbeddedBridge:
    name = "inline"

    def __init__(self, settings: Settings, *, signer: TokenSigner, wake: Callable[[str], None]) -> None:
        self._settings = settings
        self._signer = signer
        self._wake = wake  # delivers a wake-up to this process's subscribers
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._cancels: dict[str, asyncio.Future[bool]] = {}
        self._closing = False
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="embedded-worker")

    async def dispatch(self, payload: TaskPayload) -> Dispatched:
        if self._closing:
            raise DispatchError("the service is shutting down")
        writer = self._writer
        if writer is not None and not writer.is_closing():
            # A dead worker is no reason to refuse the turn: the run is committed PENDING, and the
            # restarted worker picks up every pending run first.
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.write(_encode({"run": payload}) + b"\n")
        return Dispatched(run_id=payload.run_id, public_access_token=self._signer.for_run(payload.run_id))

    async def cancel(self, run_id: str) -> bool:
        """Stop the run if it executes in the worker; True once it recorded CANCELED."""
        writer = self._writer
        if writer is None or writer.is_closing():
            return False
        answer = self._cancels.setdefault(run_id, asyncio.get_running_loop().create_future())
        try:
            writer.write(_encode({"cancel": run_id}) + b"\n")
            async with asyncio.timeout(CANCEL_TIMEOUT_SECONDS):
                return await asyncio.shield(answer)
        except (TimeoutError, ConnectionError, RuntimeError):
            return False
        finally:
            self._cancels.pop(run_id, None)

    async def forget(self, run_ids: list[str]) -> None:
        return None  # runs live in the database only

    async def close(self) -> None:
        self._closing = True
        process, writer = self._process, self._writer
        if process is not None and process.returncode is None and writer is not None and not writer.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.write(_encode({"stop": True}) + b"\n")
                await writer.drain()
            try:  # the worker gives running turns their grace, then records the rest as interrupted
                async with asyncio.timeout(self._settings.worker_shutdown_grace_seconds + 15):
                    await process.wait()
            except TimeoutError:
                log.warning("embedded worker did not stop in time; killing it")
                process.kill()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until a worker process is up and connected (tests and benchmarks)."""
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    # -- the worker process ---------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Run the worker; start it again whenever it exits, unless the API is closing."""
        failures = 0
        while not self._closing:
            started = asyncio.get_running_loop().time()
            try:
                code = await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the supervisor must outlive any single failure
                log.exception("embedded worker failed to start")
                code = -1
            if self._closing:
                return
            failures = 0 if asyncio.get_running_loop().time() - started > 60 else failures + 1
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            log.error("embedded worker exited (code %s); restarting in %.1fs", code, delay)
            await asyncio.sleep(delay)

    async def _run_once(self) -> int:
        early = _take_prestarted()
        if early is not None:
            ours, self._process = early  # type: ignore[assignment]
        else:
            ours, theirs = socket.socketpair()
            try:
                self._process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bridge.embedded_worker", str(theirs.fileno()),
                    pass_fds=(theirs.fileno(),), env=os.environ.copy())
            finally:
                theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=64 * 1024 * 1024)
        self._writer = writer
        # The database is migrated by now; a worker started early waits for this before it reads it.
        writer.write(_encode({"go": True}) + b"\n")
        self._ready.set()
        try:
            await self._read(reader)
            return await self._process.wait()
        finally:
            self._ready.clear()
            self._writer = None
            writer.close()
            for answer in self._cancels.values():
                if not answer.done():
                    answer.set_result(False)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            message = _decode(line)
            if "wake" in message:
                self._wake(message["wake"])
            elif "canceled" in message:
                answer = self._cancels.get(message["canceled"])
                if answer is not None and not answer.done():
                    answer.set_result(bool(message.get("found")))


class _EarlyProcess:
    """A worker started with ``subprocess.Popen`` before the event loop existed, seen through the part of
    ``asyncio.subprocess.Process`` the bridge uses (pid, returncode, wait, kill)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def wait(self) -> int:
        while (code := self._popen.poll()) is None:  # no child watcher for a Popen: look every 50 ms
            await asyncio.sleep(0.05)
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._popen.kill()


_prestarted: tuple[socket.socket, _EarlyProcess] | None = None


def prestart() -> None:
    """Start the worker process now, before the API imports its framework and builds the app: its own
    imports (pydantic-ai, about a second of CPU) then overlap the API's instead of following them. The
    bridge adopts it when it starts; any later restart spawns as usual. ``serve`` calls this once."""
    global _prestarted
    ours, theirs = socket.socketpair()
    try:
        popen = subprocess.Popen([sys.executable, "-m", "bridge.embedded_worker", str(theirs.fileno())],
                                 pass_fds=(theirs.fileno(),), env=os.environ.copy())
    finally:
        theirs.close()
    _prestarted = (ours, _EarlyProcess(popen))


def _take_prestarted() -> tuple[socket.socket, _EarlyProcess] | None:
    global _prestarted
    early, _prestarted = _prestarted, None
    if early is not None and early[1].returncode is not None:  # it died before the API came up
        early[0].close()
        return None
    return early


def worker_pids(bridge: Any) -> list[int]:
    """The embedded worker's pid, for benchmarks that count every process running turns."""
    pid = getattr(bridge, "pid", None)
    return [pid] if pid else []
