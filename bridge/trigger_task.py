"""The Python side of the Trigger.dev tasks: ``python -m bridge.trigger_task <payload.json>``.

``trigger/src/python-job.ts`` writes the task payload (a :data:`core.payloads.TaskPayload` as JSON)
to a file and streams this module's standard output through ``@trigger.dev/python``. The job runs
with :func:`jobs.execute.execute_raw`, the one entry point inline and ARQ use too; besides the run's
rows in our database (as locally), its events go to a :class:`LineReporter`: one JSON object per
line on standard output, which the TypeScript task turns into SDK calls inside the run:

  - ``{"chat": <ChatStreamEvent>}``: the event, appended to the run's realtime stream ``chat``
    (the same stream, and the same event JSON, that local runs serve);
  - ``{"metadata": {key: value, …}}``: folded state keys that changed (``phase``, ``reply``,
    ``status``…), set on the run's metadata, the same keys local runs fold;
  - ``{"result": {"ran": bool, "status": <RunStatus> | null, "output": {…} | null,
    "error": {"code", "message"} | null}}``: the last line, printed once everything is closed. The
    TypeScript task returns ``output`` when the run succeeded and fails the Trigger.dev run with the
    ``error`` otherwise (without retrying: a retry would find the run already ended), so the run's
    status, output and error read the same as a local run's. It fails the run too when the line is
    missing (crash, kill, exception).

Standard output carries nothing else: logs go to standard error. Exit status 0 when the task ran or
had nothing to do; the outcome itself is in the database (and in the ``done`` event).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any

import msgspec

from core.settings import Settings
from jobs.execute import execute_raw
from jobs.guard import JobDeps, Outcome
from jobs.llm_factory import build_llm
from jobs.reporter import BatchingReporter, fold
from ops import metrics
from store.db import Database
from store.redis import redis_client
from store.wake import publisher

log = logging.getLogger("campaign_chat.trigger_task")

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

    def result(self, outcome: Outcome) -> None:
        line = {"ran": outcome.ran, "status": outcome.status.value if outcome.status else None,
                "output": outcome.output, "error": msgspec.to_builtins(outcome.failure) if outcome.failure else None}
        self._out.write(_encoder.encode({"result": line}) + b"\n")
        self._out.flush()


async def run(payload_path: Path, environ: dict[str, str] | None = None, out: IO[bytes] | None = None) -> Outcome:
    env = dict(os.environ if environ is None else environ)
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        raise SystemExit(f"bridge.trigger_task: missing environment: {', '.join(missing)}")
    settings = Settings.from_env(env)
    raw = payload_path.read_bytes()
    db = Database(settings.database_url, idle_in_transaction_seconds=settings.claim_lease_seconds)
    metrics.count_statements(db.sync_engines(), "worker")
    redis = redis_client(settings.redis_url) if settings.uses_redis else None
    lines = LineReporter(out or sys.stdout.buffer)
    try:
        deps = JobDeps(db=db, settings=settings, llm=build_llm(settings), wake=publisher(settings, db, redis))
        outcome = await execute_raw(deps, raw, extra=lines)
    finally:
        if redis is not None:
            await redis.aclose()
        await db.dispose()
    # Last, once everything is closed: the TypeScript task cannot see the exit status
    # (python.stream.run hides it), so a result line must mean the process is about to exit 0.
    lines.result(outcome)
    return outcome


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bridge.trigger_task <payload.json>", file=sys.stderr)
        return 2
    # Standard output is the line protocol; every log line goes to standard error.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s", stream=sys.stderr)
    asyncio.run(run(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
