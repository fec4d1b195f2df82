"""Error bodies carry the fields the contract requires, as declared attributes."""

from __future__ import annotations

from core.errors import BadRequest, DispatchFailed, RateLimited, SessionBusy, Unauthorized


def test_a_busy_session_names_its_holder_even_when_there_is_none() -> None:
    # A flag set by hand (PATCH task_status) has no run: run_id is null, and still present.
    assert SessionBusy("busy", task_status="chat_processing", run_id=None).body() == {
        "error": "busy", "code": "session_busy", "task_status": "chat_processing", "run_id": None}
    assert SessionBusy("busy", task_status=None, run_id="run_1").headers == {"Retry-After": "2"}


def test_optional_fields_appear_only_when_known() -> None:
    assert BadRequest("bad").body() == {"error": "bad", "code": "validation_error"}
    assert BadRequest("bad", field="message").body()["field"] == "message"
    assert BadRequest("empty", code="invalid_json").code == "invalid_json"


def test_headers_and_declared_fields() -> None:
    assert RateLimited("slow down", retry_after=7).headers == {"Retry-After": "7"}
    assert Unauthorized("who?").headers == {"WWW-Authenticate": "Bearer"}
    assert DispatchFailed("no", reason="Redis is unreachable").body()["reason"] == "Redis is unreachable"
