"""Embedded backend, execute side: the worker process ``serve`` starts (``python -m bridge.embedded_worker FD``).

It reads its orders from the socket the API handed it (see :mod:`bridge.embedded` for the line
protocol), runs up to ``CAMPAIGN_CHAT_WORKER_CONCURRENCY`` turns at once through
:func:`jobs.execute.execute` (the rest wait in order), and reports wake-ups back to the API when the
deployment has no channel of its own (SQLite). On start it first queues every PENDING run of this
backend from the database, so nothing accepted while it was down is lost.

Shutdown (``{"stop"}`` from the API, the socket closing because the API died, or SIGTERM): stop
taking runs, give running turns ``CAMPAIGN_CHAT_WORKER_SHUTDOWN_GRACE_SECONDS``, then stop the rest
as INTERRUPTED, wait until every outcome is written, and exit. Runs still queued stay PENDING in the
database for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from typing import Any

import msgspec

from core.payloads import TaskPayload, payload_from_builtins
from core.settings import Settings
from jobs.execute import execute
from jobs.guard import JobDeps, RunHandle, StopReason
from ops import metrics
from ops.process import configure_process, settled
from store.db import Database
from store.migrate import is_missing_schema
from store import runs
from store.wake import publisher

log = logging.getLogger("campaign_chat.embedded_worker")

BACKEND = "inline"
MIGRATION_POLL_SECONDS = 2.0  # how often a worker on an unmigrated database looks again
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class EmbeddedWorker:
    def __init__(self, deps: JobDeps, writer: asyncio.StreamWriter) -> None:
        self.deps = deps
        self._writer = writer
        self._queue: asyncio.Queue[TaskPayload] = asyncio.Queue()
        self._seen: set[str] = set()
        self._running: dict[str, tuple[asyncio.Task[Any], RunHandle]] = {}
        self._slots = asyncio.Semaphore(deps.settings.worker_concurrency)
        self._stopping = asyncio.Event()
        self.go = asyncio.Event()  # the API says the database is ready (it may start us before migrating)

    def send(self, message: dict[str, Any]) -> None:
        if not self._writer.is_closing():
            self._writer.write(_encode(message) + b"\n")

    async def wake(self, run_id: str) -> None:
        self.send({"wake": run_id})

    def enqueue(self, payload: TaskPayload) -> None:
        if payload.run_id in self._seen or self._stopping.is_set():
            return  # already queued (picked up at start and sent again), or shutting down
        self._seen.add(payload.run_id)
        self._queue.put_nowait(payload)

    async def pick_up_pending(self) -> int:
        """Queue the runs accepted while no worker was running (oldest first)."""
        payloads = await self.deps.db.run_read(runs.pending_payloads, backend=BACKEND)
        for raw in payloads:
            with contextlib.suppress(msgspec.ValidationError):
                self.enqueue(payload_from_builtins(raw))
        return len(payloads)

    async def pick_up_pending_once_migrated(self) -> int | None:
        """:meth:`pick_up_pending`, waiting (one plain warning, no traceback) while the database has no
        schema yet: `serve` on an unmigrated PostgreSQL database starts, says so, and answers 503 until
        `campaign-chat migrate` has run. None when told to stop first."""
        warned = False
        while not self._stopping.is_set():
            try:
                return await self.pick_up_pending()
            except Exception as exc:
                if not is_missing_schema(exc):
                    raise
                if not warned:
                    log.warning("embedded worker: the database is not migrated; waiting for `campaign-chat migrate`")
                    warned = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(MIGRATION_POLL_SECONDS):
                    await self._stopping.wait()
        return None

    async def run(self) -> None:
        """Take queued runs until told to stop; each runs in its own task, at most ``concurrency`` at once."""
        stop = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                await self._slots.acquire()
                take = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({take, stop}, return_when=asyncio.FIRST_COMPLETED)
                if take not in done:
                    take.cancel()
                    self._slots.release()
                    break
                self._start(take.result())
        finally:
            stop.cancel()

    def _start(self, payload: TaskPayload) -> None:
        handle = RunHandle()
        task = asyncio.create_task(execute(self.deps, payload, handle=handle), name=f"run:{payload.run_id}")
        self._running[payload.run_id] = (task, handle)

        def finished(t: asyncio.Task[Any], run_id: str = payload.run_id) -> None:
            self._running.pop(run_id, None)
            self._seen.discard(run_id)
            self._slots.release()
            if not t.cancelled() and t.exception() is not None:
                log.error("run %s crashed", run_id, exc_info=t.exception())

        task.add_done_callback(finished)

    async def cancel(self, run_id: str) -> None:
        entry = self._running.get(run_id)
        found = entry is not None and entry[1].stop(StopReason.CANCELED)
        if found and entry is not None:
            await asyncio.gather(entry[0], return_exceptions=True)
        self.send({"canceled": run_id, "found": found})

    def stop(self) -> None:
        self._stopping.set()

    async def wait_for_go(self) -> bool:
        """Until the API says go (True) or the worker is told to stop first (False)."""
        go, stop = asyncio.ensure_future(self.go.wait()), asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({go, stop}, return_when=asyncio.FIRST_COMPLETED)
        go.cancel()
        stop.cancel()
        return self.go.is_set()

    async def drain(self) -> None:
        """Shutdown: the grace period for running turns, then interrupt the rest; wait for their records."""
        tasks = [task for task, _ in self._running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.deps.settings.worker_shutdown_grace_seconds)
        for task, handle in list(self._running.values()):
            handle.stop(StopReason.INTERRUPTED)
        still = [task for task, _ in self._running.values()]
        if still:
            await asyncio.wait(still, timeout=30)


async def _listen(worker: EmbeddedWorker, reader: asyncio.StreamReader) -> None:
    try:
        while line := await reader.readline():
            message = _decode(line)
            if "run" in message:
                worker.enqueue(payload_from_builtins(message["run"]))
            elif message.get("go"):
                worker.go.set()
            elif "cancel" in message:
                asyncio.create_task(worker.cancel(message["cancel"]))
            elif message.get("stop"):
                break
    finally:
        worker.stop()  # told to, or the API went away (EOF): either way, shut down


async def main(fd: int) -> None:
    settings = Settings.from_env()
    configure_process(settings)
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock, limit=64 * 1024 * 1024)
    db = Database(settings.database_url, idle_in_transaction_seconds=settings.claim_lease_seconds)
    metrics.count_statements(db.sync_engines(), "worker")
    from jobs.llm_factory import build_llm  # the heavy imports (pydantic-ai, providers) live here only

    deps = JobDeps(db=db, settings=settings, llm=build_llm(settings))
    worker = EmbeddedWorker(deps, writer)
    # Wake subscribers through the deployment's channel when it has one; on SQLite, through the API.
    deps.wake = publisher(settings, db, None) or worker.wake
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    listener = asyncio.create_task(_listen(worker, reader))
    try:
        if not await worker.wait_for_go():
            return  # the API went away (or stopped us) before it was ready
        picked = await worker.pick_up_pending_once_migrated()
        if picked is None:
            return  # told to stop while waiting for the schema
        log.info("embedded worker ready: concurrency=%d, %d pending run(s) picked up", settings.worker_concurrency,
                 picked)
        # Ready at full priority (a start-up on a busy machine is not starved); from now on the
        # turns are background work: when both want the CPU, the API's accept path goes first.
        settled()
        os.nice(settings.embedded_worker_nice)
        await worker.run()
        await worker.drain()
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        writer.close()
        await db.dispose()
        metrics.process_exited()  # multiprocess mode: this process's live gauges stop counting


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
