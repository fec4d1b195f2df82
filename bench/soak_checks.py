"""The soak's invariants, checked against the database after the load and against what clients saw.

Each check returns a list of violations (empty = holds); the soak fails when any list is non-empty.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa

from soak_clients import Record
from store.db import Database
from core.status import TERMINAL_STATUSES
from store.tables import runs, sessions


async def load_state(database_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            session_rows = (await conn.execute(sa.select(
                sessions.c.id, sessions.c.task_status, sessions.c.claim_run_id, sessions.c.messages))).mappings().all()
            run_rows = (await conn.execute(sa.select(
                runs.c.id, runs.c.session_id, runs.c.status, runs.c.created_at, runs.c.started_at,
                runs.c.completed_at))).mappings().all()
        return [dict(r) for r in session_rows], [dict(r) for r in run_rows]
    finally:
        await db.dispose()


def check(rec: Record, session_rows: list[dict[str, Any]], run_rows: list[dict[str, Any]], turns: int) -> dict[str, list[str]]:
    """Every invariant by name → its violations."""
    busy = [f"session {s['id']} left {s['task_status']} (claim {s['claim_run_id']})"
            for s in session_rows if s["task_status"] is not None or s["claim_run_id"] is not None]
    open_runs = [f"run {r['id']} is {r['status']}" for r in run_rows
                 if r["status"] not in TERMINAL_STATUSES or r["completed_at"] is None]
    accepted_ids = {a.run_id for a in rec.accepted}
    stored_ids = {r["id"] for r in run_rows}
    run_mismatch = [f"run {rid} accepted but not stored" for rid in sorted(accepted_ids - stored_ids)]
    run_mismatch += [f"run {rid} stored but never accepted" for rid in sorted(stored_ids - accepted_ids)]
    if len(accepted_ids) != len(rec.accepted):
        run_mismatch.append(f"{len(rec.accepted)} 202 answers carried only {len(accepted_ids)} distinct run ids")
    not_succeeded = [f"run {r['id']} ended {r['status']}" for r in run_rows
                     if r["status"] in TERMINAL_STATUSES and r["status"] != "COMPLETED_SUCCESSFULLY"]
    by_id = {s["id"]: s for s in session_rows}
    transcript = []
    for sid, sent in rec.accepted_by_session.items():
        row = by_id.get(sid)
        if row is None:
            transcript.append(f"session {sid} vanished")
            continue
        transcript += _transcript_problems(sid, row["messages"] or [], sent)
    incomplete = [f"session {sid} got {len(sent)} of {turns} turns accepted"
                  for sid, sent in rec.accepted_by_session.items() if len(sent) < turns]
    if len(rec.accepted_by_session) * turns != rec.planned_turns or not rec.accepted_by_session:
        incomplete.append("not every session was created")
    return {
        "no session left busy": busy,
        "every run terminal": open_runs,
        "one run per accepted turn": run_mismatch,
        "every run succeeded": not_succeeded,
        "transcript = accepted turns, strictly alternating": transcript,
        "a session's runs never overlap": _overlaps(run_rows),
        "every planned turn accepted": incomplete,
        "no error responses but the expected 409s": list(rec.unexpected),
        "every realtime subscriber saw its run end": list(rec.realtime_failures),
    }


def _transcript_problems(sid: str, messages: list[dict[str, Any]], sent: list[str]) -> list[str]:
    roles = [m.get("role") for m in messages]
    expected_roles = ["user", "assistant"] * len(sent)
    if roles != expected_roles:
        return [f"session {sid}: roles {_short(roles)} for {len(sent)} accepted turns"]
    users = [m.get("content") for m in messages[0::2]]
    if users != sent:
        return [f"session {sid}: user messages {users!r} differ from the accepted {sent!r}"]
    if any(not (m.get("content") or "").strip() for m in messages[1::2]):
        return [f"session {sid}: an empty assistant message"]
    return []


def _overlaps(run_rows: list[dict[str, Any]]) -> list[str]:
    """One turn at a time per session: each run started after the session's previous run completed."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    for r in run_rows:
        by_session.setdefault(r["session_id"], []).append(r)
    found = []
    for sid, rows in by_session.items():
        rows = sorted(rows, key=lambda r: (r["started_at"] is None, r["started_at"] or r["created_at"]))
        for before, after in zip(rows, rows[1:], strict=False):
            if before["completed_at"] is None or after["started_at"] is None or after["started_at"] < before["completed_at"]:
                found.append(f"session {sid}: run {after['id']} started before run {before['id']} completed")
    return found


def _short(roles: list[Any]) -> str:
    letters = "".join({"user": "u", "assistant": "a"}.get(r, "?") for r in roles)
    return letters or "(none)"


def status_histogram(run_rows: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(r["status"] for r in run_rows))


def completion_ms(run_rows: list[dict[str, Any]]) -> list[float]:
    """Server-side turn completion: run created (claim) → run completed, for finished runs."""
    return [(r["completed_at"] - r["created_at"]).total_seconds() * 1000 for r in run_rows if r["completed_at"]]
