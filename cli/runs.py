"""``campaign-chat runs list|show`` and ``campaign-chat sessions release``: inspect runs, free a stuck claim.

These read the database named by ``DATABASE_URL`` directly, so they work while the API is down.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cli.main import EXTRA_COMMANDS, _with_db
from core.ids import utcnow
from core.settings import Settings
from core.status import RunStatus

if TYPE_CHECKING:  # the store (and SQLAlchemy) load when a command runs, not for `--help`
    import sqlalchemy as sa

    from store.db import Database
    from store.rows import RunRow

log = logging.getLogger("campaign_chat.cli.runs")

STATUSES = [s.value for s in RunStatus]
RELEASED_CODE = "released_by_operator"


def _status(value: str) -> RunStatus:
    upper = value.strip().upper()
    if upper not in STATUSES:
        raise argparse.ArgumentTypeError(f"unknown status {value!r}: use one of {', '.join(STATUSES)}")
    return RunStatus(upper)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else "-"


def _seconds(start: datetime | None, end: datetime | None) -> str:
    return f"{(end - start).total_seconds():.2f}s" if start and end else "-"


def _json_default(value: Any) -> Any:
    return _when(value) if isinstance(value, datetime) else str(value)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from store import runs

    async def work(db: Database) -> list[Any]:
        return await db.run_read(runs.list_runs, session_id=args.session, status=args.status, limit=args.limit)

    rows: list[RunRow] = asyncio.run(_with_db(settings, work))
    if args.json:
        keep = ("id", "external_id", "session_id", "task", "backend", "status", "created_at", "started_at",
                "completed_at", "error", "usage")
        print(json.dumps([{k: _plain(getattr(row, k)) for k in keep} for row in rows], default=_json_default,
                         indent=2))
        return 0
    if not rows:
        print("no runs match", file=sys.stderr)
        return 0
    print(f"{'RUN':<29} {'STATUS':<22} {'TASK':<24} {'SESSION':<36} {'CREATED':<20} {'RUN TIME':>9}  ERROR")
    for row in rows:
        error = row.failure.code if row.failure else ""
        print(f"{row.id:<29} {row.status.value:<22} {row.task:<24} {row.session_id:<36} "
              f"{_when(row.created_at):<20} {_seconds(row.started_at, row.completed_at):>9}  {error}")
    return 0


def _plain(value: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value


def _show(settings: Settings, args: argparse.Namespace) -> int:
    from store import runs

    def read(conn: sa.Connection) -> tuple[Any, list[Any]]:
        run = runs.get(conn, args.run_id)
        return run, runs.events_after(conn, run_id=run.id, after_seq=0, limit=10_000) if run else []

    async def work(db: Database) -> tuple[Any, list[Any]]:
        return await db.run_read(read)

    run, events = asyncio.run(_with_db(settings, work))
    if run is None:
        print(f"no run {args.run_id}", file=sys.stderr)
        return 1
    if args.json:
        data = {k: _plain(getattr(run, k)) for k in run.__struct_fields__ if k != "payload"}
        data["events"] = [{"seq": e.seq, "at": e.created_at, "event": e.event} for e in events]
        print(json.dumps(data, default=_json_default, indent=2))
        return 0
    lines = [
        ("run", run.id + (f" (backend id {run.external_id})" if run.external_id else "")),
        ("status", run.status.value),
        ("task", f"{run.task} on {run.backend}"),
        ("session", run.session_id),
        ("created", _when(run.created_at)),
        ("started", f"{_when(run.started_at)} (queued {_seconds(run.created_at, run.started_at)})"),
        ("completed", f"{_when(run.completed_at)} (ran {_seconds(run.started_at, run.completed_at)})"),
        ("attempts", str(run.attempts)),
    ]
    if run.failure:
        lines.append(("error", f"{run.failure.code}: {run.failure.message}"))
    if run.usage:
        u = run.usage
        lines.append(("usage", f"{u.input_tokens} in / {u.output_tokens} out tokens, "
                               f"{u.requests} requests, ${u.cost_usd:.6f}"))
    for label, value in lines:
        print(f"{label + ':':<11} {value}")
    print(f"events:    {len(events)}")
    for e in events:
        event = dict(e.event)
        kind = event.pop("type", "?")
        detail = " ".join(f"{k}={json.dumps(v, default=_json_default)}" for k, v in event.items())
        print(f"  {e.seq:>4}  {_when(e.created_at)}  {kind:<12} {detail}")
    return 0


def _release(settings: Settings, args: argparse.Namespace) -> int:
    from store import lifecycle, runs, sessions
    from store.rows import RunFailure

    operator = args.by or getpass.getuser()
    reason = f"the claim was released by an operator ({operator}): {args.reason}"

    def release(conn: sa.Connection) -> tuple[str, Any]:
        held = sessions.holder(conn, session_id=args.session_id)
        if held is None:
            return "missing", None
        if held.task_status is None:
            return "idle", held
        now = utcnow()
        if held.claim_run_id is None:  # a hand-set busy flag: no run to fail
            released = sessions.release_by_operator(conn, session_id=args.session_id, claim_run_id=None, now=now)
            return ("released" if released else "moved"), held
        run = runs.get(conn, held.claim_run_id)
        task = run.task if run else ("framework-chat-turn" if held.task_status == "chat_processing"
                                     else "generate-email-examples")
        ref = lifecycle.RunRef(held.claim_run_id, held.run_id or held.claim_run_id, args.session_id, task)
        ended = lifecycle.end_run(conn, ref, RunStatus.SYSTEM_FAILURE, now=now,
                                  failure=RunFailure(RELEASED_CODE, reason), force_release=True)
        return ("released" if ended.held else "moved"), held

    async def work(db: Database) -> tuple[str, Any]:
        return await db.run(release)

    outcome, held = asyncio.run(_with_db(settings, work))
    if outcome == "missing":
        print(f"no session {args.session_id}", file=sys.stderr)
        return 1
    if outcome == "idle":
        print(f"session {args.session_id} is not busy; nothing to release", file=sys.stderr)
        return 1
    if outcome == "moved":
        print(f"session {args.session_id}'s claim changed while releasing; nothing released, look again",
              file=sys.stderr)
        return 1
    log.warning("session claim released by operator", extra={
        "session_id": args.session_id, "run_id": held.claim_run_id, "task_status": held.task_status,
        "lease_expires_at": _when(held.lease_expires_at), "operator": operator, "reason": args.reason})
    run = held.claim_run_id or "no run (a hand-set busy flag)"
    print(f"released session {args.session_id} ({held.task_status}, held by {run}); the run is marked failed"
          if held.claim_run_id else f"released session {args.session_id} ({held.task_status}, {run})")
    return 0


def add_commands(sub: Any) -> None:
    runs_cmd = sub.add_parser("runs", help="inspect runs").add_subparsers(dest="runs_command", required=True)
    listing = runs_cmd.add_parser("list", help="recent runs, newest first")
    listing.add_argument("--session", default=None, help="only this session's runs")
    listing.add_argument("--status", type=_status, default=None, help="only runs in this status (e.g. EXECUTING)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)
    show = runs_cmd.add_parser("show", help="one run: status, timings, error, usage and its event log")
    show.add_argument("run_id", help="our run id (run_…) or the backend's id")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=_show)

    sessions_cmd = sub.add_parser("sessions", help="operate on sessions").add_subparsers(
        dest="sessions_command", required=True)
    release = sessions_cmd.add_parser(
        "release", help="clear a stuck claim now (the lease does this on its own; use it when that cannot wait)")
    release.add_argument("session_id")
    release.add_argument("--reason", default="stuck claim cleared by hand", help="recorded on the run and in the log")
    release.add_argument("--by", default=None, help="who is releasing (default: the OS user)")
    release.set_defaults(handler=_release)


EXTRA_COMMANDS.append(add_commands)
