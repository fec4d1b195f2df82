"""The Python side of the Trigger.dev tasks: ``python -m jobs.trigger_entry <payload.json>``.

``trigger/src/tasks.ts`` writes the task payload (a :data:`core.payloads.TaskPayload` as JSON) to a
file and runs this module through ``@trigger.dev/python``. It runs the payload with
:func:`jobs.entry.execute`, the one entry point inline and ARQ use too, with two reporters:

* :class:`jobs.reporter.RunReporter` — the run's rows in our database, as locally;
* :class:`TriggerMetadataReporter` — the run's own Trigger.dev metadata, through
  ``PUT {TRIGGER_API_URL}/api/v1/runs/{TRIGGER_RUN_ID}/metadata`` (route
  ``api.v1.runs.$runId.metadata.ts``, body ``UpdateMetadataRequestBody`` = ``{operations: [...]}``),
  authenticated with the task environment's ``TRIGGER_SECRET_KEY``. Every ChatStreamEvent is
  appended to the ``chat`` key and the folded state (phase, reply so far…) is set key by key, so
  Trigger.dev realtime subscribers see the same events and state as local subscribers.

Exit status 0 when the task ran or had nothing to do; the outcome itself is in the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from core.events import ChatStreamEvent, Reporter
from core.payloads import payload_from_builtins
from core.settings import Settings
from jobs.entry import execute
from jobs.models import build_llm
from jobs.reporter import STREAM_KEY, BatchingReporter, RunReporter, fold
from jobs.runtime import JobDeps
from jobs.wake import build_wake
from store.db import Database

log = logging.getLogger("campaign_chat.trigger_entry")

REQUEST_TIMEOUT_SECONDS = 5.0


class TriggerMetadataReporter(BatchingReporter):
    """Reports a run's events to its Trigger.dev run metadata. Best effort: never raises into the job."""

    flush_interval = 0.25  # each flush is a request to Trigger.dev: batch deltas more coarsely

    def __init__(self, *, api_url: str, secret_key: str, trigger_run_id: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__()
        self._url = f"{api_url.rstrip('/')}/api/v1/runs/{trigger_run_id}/metadata"
        self._headers = {"Authorization": f"Bearer {secret_key}", "Content-Type": "application/json"}
        self._client = httpx.AsyncClient(transport=transport, timeout=REQUEST_TIMEOUT_SECONDS)

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        before = dict(self._state)
        operations: list[dict[str, Any]] = []
        for data in batch:
            fold(self._state, data)
            operations.append({"type": "append", "key": STREAM_KEY, "value": data})
        operations += [{"type": "set", "key": k, "value": v} for k, v in self._state.items() if before.get(k) != v]
        response = await self._client.put(self._url, content=json.dumps({"operations": operations}),
                                          headers=self._headers)
        if response.is_error:
            raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request, response=response)

    async def aclose(self) -> None:
        await self._client.aclose()


class FanOut:
    """Sends each event to several reporters (each one is best effort on its own)."""

    def __init__(self, *reporters: Reporter) -> None:
        self._reporters = reporters

    async def emit(self, event: ChatStreamEvent) -> None:
        for reporter in self._reporters:
            await reporter.emit(event)

    async def flush(self) -> None:
        for reporter in self._reporters:
            flush = getattr(reporter, "flush", None)
            if flush is not None:
                await flush()


async def run(payload_path: Path, environ: dict[str, str] | None = None,
              transport: httpx.AsyncBaseTransport | None = None) -> bool:
    env = dict(os.environ if environ is None else environ)
    missing = [name for name in ("TRIGGER_RUN_ID", "TRIGGER_SECRET_KEY", "DATABASE_URL") if not env.get(name)]
    if missing:
        raise SystemExit(f"jobs.trigger_entry: missing environment: {', '.join(missing)}")
    settings = Settings.from_env(env)
    payload = payload_from_builtins(json.loads(payload_path.read_text()))
    db = Database(settings.database_url)
    wake, close_wake = await build_wake(settings)
    remote = TriggerMetadataReporter(api_url=settings.trigger_api_url, secret_key=settings.trigger_secret_key,
                                     trigger_run_id=env["TRIGGER_RUN_ID"], transport=transport)
    try:
        deps = JobDeps(db=db, settings=settings, llm=build_llm(settings))
        reporter = FanOut(RunReporter(db, payload.run_id, wake=wake), remote)
        return await execute(deps, payload, reporter)
    finally:
        await remote.aclose()
        await close_wake()
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jobs.trigger_entry <payload.json>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    ran = asyncio.run(run(Path(args[0])))
    print(json.dumps({"ran": ran}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
