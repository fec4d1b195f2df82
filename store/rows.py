"""Typed rows: what the repositories return, as frozen msgspec structs.

A :class:`SessionRow` is the published ``Session`` (field for field, in the contract's order), so the
API encodes it as it is; :class:`ClaimedSession` adds the claim columns a job reads. A
:class:`RunRow` is one dispatched task. JSON columns whose shape we own (``last_run``, ``usage``,
``error``) are typed, and so is what the session remembers from the requests (``available_var_names``,
``sequence_context``: the request types, with the request's bounds); the user's free-form content
(messages, skeleton, histories) stays plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from core.payloads import SequenceContext, VarNames
from core.status import Outcome, RunStatus
from core.usage import Usage

Json = dict[str, Any]


class RunFailure(msgspec.Struct, frozen=True):
    """Why a run did not succeed: a stable code and a message safe to show the session's owner."""

    code: str
    message: str

    def task_run_error(self) -> Json:
        """Trigger.dev's ``TaskRunError`` (BUILT_IN_ERROR) carrying our code as ``name``."""
        return {"type": "BUILT_IN_ERROR", "name": self.code, "message": self.message, "stackTrace": ""}

    @classmethod
    def from_task_run_error(cls, error: Json | None) -> RunFailure | None:
        if not error:
            return None
        return cls(code=str(error.get("name") or "error"), message=str(error.get("message") or ""))


class LastRun(msgspec.Struct, frozen=True):
    """How the session's most recent task ended (the contract's ``LastRun``)."""

    id: str
    task: str
    status: Outcome
    error: RunFailure | None
    finished_at: str


class SessionRow(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    campaign_id: str
    node_id: str
    title: str | None = None
    messages: list[Json] | None = None
    draft_subject: str | None = None
    draft_body: str | None = None
    skeleton: Json | None = None
    skeleton_history: list[Json] | None = None
    draft_history: list[Json] | None = None
    framework_version: int | None = None
    generated_examples: list[Json] | None = None
    # The last whitelist / sequence context a task was given (None: never given one); see SessionMemory.
    available_var_names: VarNames | None = None
    sequence_context: SequenceContext | None = None
    task_status: str | None = None
    run_id: str | None = None
    last_run: LastRun | None = None
    usage: Usage | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ClaimedSession(SessionRow, frozen=True):
    """A session as the job holding its claim reads it."""

    claim_run_id: str | None = None
    lease_expires_at: datetime | None = None


class SessionMemory(msgspec.Struct, frozen=True):
    """What a task's request gave that the session keeps for later tasks that leave it out.

    None means "not given": the session keeps what it had. An empty whitelist is a value (no
    variables at all), so it is remembered like any other."""

    available_var_names: list[str] | None = None
    sequence_context: SequenceContext | None = None

    def columns(self) -> dict[str, Any]:
        """The session columns to write: only what was given (the names once each, in their order)."""
        values: dict[str, Any] = {}
        if self.available_var_names is not None:
            values["available_var_names"] = list(dict.fromkeys(self.available_var_names))
        if self.sequence_context is not None:
            values["sequence_context"] = msgspec.to_builtins(self.sequence_context)
        return values

    def typed(self) -> dict[str, Any]:
        """The same as :meth:`columns`, typed as :class:`SessionRow` holds them."""
        values = self.columns()
        if self.sequence_context is not None:
            values["sequence_context"] = self.sequence_context
        return values


class RunRow(msgspec.Struct, frozen=True):
    id: str
    session_id: str
    user_id: str
    task: str
    backend: str
    status: RunStatus
    payload: Json
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    metadata: Json | None = None
    output: Json | None = None
    error: Json | None = None  # a TaskRunError, served as it is to the Trigger.dev SDK
    usage: Usage | None = None
    tags: list[str] | None = None
    realtime_streams: list[str] | None = None
    attempts: int = 0
    version: int = 1
    number: int = 1
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancel_requested_at: datetime | None = None

    @property
    def public_id(self) -> str:
        """The id clients follow: Trigger.dev's run id under that backend, else ours."""
        return self.external_id or self.id

    @property
    def failure(self) -> RunFailure | None:
        return RunFailure.from_task_run_error(self.error)


class RunEvent(msgspec.Struct, frozen=True):
    seq: int
    created_at: datetime
    event: Json


def _typed(mapping: Mapping[str, Any], names: tuple[str, ...], typed: dict[str, Any]) -> dict[str, Any]:
    values = {name: mapping[name] for name in names if name in mapping}
    for name, kind in typed.items():
        if values.get(name) is not None:
            values[name] = msgspec.convert(values[name], kind)
    return values


SESSION_FIELDS: tuple[str, ...] = SessionRow.__struct_fields__
CLAIMED_FIELDS: tuple[str, ...] = ClaimedSession.__struct_fields__
RUN_FIELDS: tuple[str, ...] = RunRow.__struct_fields__
_SESSION_TYPED: dict[str, Any] = {"last_run": LastRun, "usage": Usage, "available_var_names": VarNames,
                                  "sequence_context": SequenceContext}
_RUN_TYPED = {"usage": Usage}


def session_row(mapping: Mapping[str, Any]) -> SessionRow:
    return SessionRow(**_typed(mapping, SESSION_FIELDS, _SESSION_TYPED))


def claimed_session(mapping: Mapping[str, Any]) -> ClaimedSession:
    return ClaimedSession(**_typed(mapping, CLAIMED_FIELDS, _SESSION_TYPED))


def run_row(mapping: Mapping[str, Any]) -> RunRow:
    values = _typed(mapping, RUN_FIELDS, _RUN_TYPED)
    values["status"] = RunStatus(values["status"])
    return RunRow(**values)
