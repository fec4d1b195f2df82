"""The Python side of the Trigger.dev tasks: ``python -m jobs.trigger_entry <payload.json>``.

``trigger/src/python-job.ts`` writes the task payload (a :data:`core.payloads.TaskPayload` as JSON)
to a file and streams this module's standard output through ``@trigger.dev/python``. The job runs
with :func:`jobs.entry.execute`, the one entry point inline and ARQ use too, with two reporters:

* :class:`jobs.reporter.RunReporter`: the run's rows in our database, as locally;
* :class:`LineReporter`: one JSON object per line on standard output, which the TypeScript task
  turns into SDK calls inside the run (see ``trigger/src/python-job.ts``):

  - ``{"chat": <ChatStreamEvent>}``: the event, appended to the run's realtime stream ``chat``
    (the same stream, and the same event JSON, that local runs serve);
  - ``{"metadata": {key: value, …}}``: folded state keys that changed (``phase``, ``reply``,
    ``status``…), set on the run's metadata, the same keys local runs fold;
  - ``{"result": {"ran": bool}}``: the last line, printed once everything is closed; the task's
    output. The TypeScript task fails the run when it is missing (crash, kill, exception).

Standard output carries nothing else: logs go to standard error. Exit status 0 when the task ran or
had nothing to do; the outcome itself is in the database (and in the ``done`` event).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any

import msgspec

from core.events import ChatStreamEvent, Reporter
from core.settings import Settings
from jobs.entry import execute_raw
from jobs.models import build_llm
from jobs.reporter import BatchingReporter, RunReporter, fold
from jobs.runtime import JobDeps
from jobs.wake import build_wake
from store.db import Database

log = logging.getLogger("campaign_chat.trigger_entry")

REQUIRED_ENV = ("TRIGGER_RUN_ID", "DATABASE_URL")
_encoder = msgspec.json.Encoder()


class LineReporter(BatchingReporter):
    """Writes events and folded-state changes as JSON lines for the TypeScript task to forward.

    Batched like the database reporter (reply deltas coalesced for ``DELTA_FLUSH_SECONDS``), so the
    ``chat`` stream carries the same events a local subscriber reads.
    """

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__()
        self._out = out

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        before = dict(self._state)
        lines = []
        for data in batch:
            fold(self._state, data)
            lines.append(_encoder.encode({"chat": data}))
        changed = {k: v for k, v in self._state.items() if before.get(k) != v}
        if changed:
            lines.append(_encoder.encode({"metadata": changed}))
        self._out.write(b"\n".join(lines) + b"\n")
        self._out.flush()

    def result(self, ran: bool) -> None:
        self._out.write(_encoder.encode({"result": {"ran": ran}}) + b"\n")
        self._out.flush()


class FanOut:
    """Sends each call to several reporters, in order; each one is best effort on its own."""

    def __init__(self, *reporters: Reporter) -> None:
        self._reporters = reporters

    async def emit(self, event: ChatStreamEvent) -> None:
        for reporter in self._reporters:
            await reporter.emit(event)

    async def flush(self) -> None:
        for reporter in self._reporters:
            await reporter.flush()

    async def settled(self) -> None:
        for reporter in self._reporters:
            await reporter.settled()

    async def aclose(self) -> None:
        for reporter in self._reporters:
            await reporter.aclose()


async def run(payload_path: Path, environ: dict[str, str] | None = None, out: IO[bytes] | None = None) -> bool:
    env = dict(os.environ if environ is None else environ)
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        raise SystemExit(f"jobs.trigger_entry: missing environment: {', '.join(missing)}")
    settings = Settings.from_env(env)
    raw = payload_path.read_bytes()
    db = Database(settings.database_url)
    wake, close_wake = await build_wake(settings)
    lines = LineReporter(out or sys.stdout.buffer)
    reporter = FanOut(RunReporter(db, _run_id(raw), wake=wake), lines)
    try:
        deps = JobDeps(db=db, settings=settings, llm=build_llm(settings))
        ran = await execute_raw(deps, raw, reporter)
    finally:
        await reporter.aclose()
        await close_wake()
        await db.dispose()
    # Last, once everything is closed: the TypeScript task cannot see the exit status
    # (python.stream.run hides it), so a result line must mean the process is about to exit 0.
    lines.result(ran)
    return ran


def _run_id(raw: bytes) -> str:
    try:
        run_id = json.loads(raw).get("run_id")
    except (ValueError, AttributeError):
        run_id = None
    if not isinstance(run_id, str) or not run_id:
        raise SystemExit("jobs.trigger_entry: the payload has no run_id; it did not come from campaign-chat")
    return run_id


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jobs.trigger_entry <payload.json>", file=sys.stderr)
        return 2
    # Standard output is the line protocol; every log line goes to standard error.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s", stream=sys.stderr)
    asyncio.run(run(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
