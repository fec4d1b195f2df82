"""The soak's invariant checks catch each kind of broken end state (so a passing soak means something)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from soak_checks import check  # noqa: E402
from soak_clients import Accepted, Record  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def healthy(turns: int = 2) -> tuple[Record, list[dict[str, Any]], list[dict[str, Any]]]:
    rec = Record(planned_turns=turns)
    sent = [f"message {i}" for i in range(turns)]
    rec.accepted_by_session["s1"] = list(sent)
    rec.accepted = [Accepted("s1", m, f"run_{i}", "tok", 0.0, 0.0) for i, m in enumerate(sent)]
    messages = [x for m in sent for x in ({"role": "user", "content": m}, {"role": "assistant", "content": "ok"})]
    sessions = [{"id": "s1", "task_status": None, "claim_run_id": None, "messages": messages}]
    runs = [{"id": f"run_{i}", "session_id": "s1", "status": "COMPLETED_SUCCESSFULLY",
             "created_at": T0 + timedelta(seconds=10 * i), "started_at": T0 + timedelta(seconds=10 * i + 1),
             "completed_at": T0 + timedelta(seconds=10 * i + 2)} for i in range(turns)]
    return rec, sessions, runs


def broken(violations: dict[str, list[str]]) -> set[str]:
    return {name for name, found in violations.items() if found}


def test_a_clean_end_state_passes_every_check() -> None:
    assert broken(check(*healthy(), turns=2)) == set()


def test_a_session_left_busy_is_caught() -> None:
    rec, sessions, runs = healthy()
    sessions[0].update(task_status="chatting", claim_run_id="run_1")
    assert broken(check(rec, sessions, runs, turns=2)) == {"no session left busy"}


def test_a_run_still_executing_is_caught() -> None:
    rec, sessions, runs = healthy()
    runs[1].update(status="EXECUTING", completed_at=None)
    assert "every run terminal" in broken(check(rec, sessions, runs, turns=2))


def test_a_missing_assistant_message_is_caught() -> None:
    rec, sessions, runs = healthy()
    sessions[0]["messages"] = sessions[0]["messages"][:-1]
    assert broken(check(rec, sessions, runs, turns=2)) == {"transcript = accepted turns, strictly alternating"}


def test_a_turn_stored_twice_is_caught() -> None:
    rec, sessions, runs = healthy()
    sessions[0]["messages"] += [{"role": "user", "content": "message 1"}, {"role": "assistant", "content": "ok"}]
    assert broken(check(rec, sessions, runs, turns=2)) == {"transcript = accepted turns, strictly alternating"}


def test_a_run_nobody_was_given_is_caught() -> None:
    rec, sessions, runs = healthy()
    runs.append({**runs[-1], "id": "run_extra", "session_id": "s2"})
    assert broken(check(rec, sessions, runs, turns=2)) == {"one run per accepted turn"}


def test_two_runs_of_one_session_at_the_same_time_are_caught() -> None:
    rec, sessions, runs = healthy()
    runs[1]["started_at"] = runs[0]["completed_at"] - timedelta(milliseconds=1)
    assert broken(check(rec, sessions, runs, turns=2)) == {"a session's runs never overlap"}


def test_a_failed_run_is_caught() -> None:
    rec, sessions, runs = healthy()
    runs[0]["status"] = "COMPLETED_WITH_ERRORS"
    assert broken(check(rec, sessions, runs, turns=2)) == {"every run succeeded"}


def test_unexpected_responses_and_lost_subscribers_are_caught() -> None:
    rec, sessions, runs = healthy()
    rec.note("POST /turn -> 500")
    rec.realtime_bad("sse", "closed without done")
    assert broken(check(rec, sessions, runs, turns=2)) == {
        "no error responses but the expected 409s", "every realtime subscriber saw its run end"}


def test_a_session_short_of_its_turns_is_caught() -> None:
    rec, sessions, runs = healthy()
    assert broken(check(rec, sessions, runs, turns=3)) >= {"every planned turn accepted"}
