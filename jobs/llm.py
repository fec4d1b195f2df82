"""The framework LLM as the jobs see it: one protocol, whatever model sits behind it.

Jobs build a :class:`TurnContext` / :class:`ExampleContext` from the session and call the model;
the model returns structured results that have already passed the output validators.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from core.events import Reporter
from core.payloads import Lead, SequenceContext
from core.usage import Usage


class TurnContext(msgspec.Struct, frozen=True):
    message: str
    transcript: list[dict[str, Any]]
    skeleton: dict[str, Any] | None
    framework_version: int | None
    draft_subject: str | None
    draft_body: str | None
    allowed_vars: list[str]
    sample_leads: list[Lead]
    sequence_context: SequenceContext | None


class TurnResult(msgspec.Struct, frozen=True):
    reply: str
    skeleton: dict[str, Any] | None = None
    draft_subject: str | None = None
    draft_body: str | None = None
    usage: Usage = Usage()
    retries: int = 0


class ExampleContext(msgspec.Struct, frozen=True):
    lead: Lead
    skeleton: dict[str, Any]
    draft_subject: str | None
    draft_body: str | None
    allowed_vars: list[str]
    sequence_context: SequenceContext | None


class ExampleResult(msgspec.Struct, frozen=True):
    subject: str
    body: str
    usage: Usage = Usage()


class FrameworkLLM(Protocol):
    name: str

    async def chat_turn(self, ctx: TurnContext, reporter: Reporter) -> TurnResult: ...

    async def write_example(self, ctx: ExampleContext, reporter: Reporter) -> ExampleResult: ...


STANDARD_LEAD_VARS = (
    "first_name",
    "last_name",
    "full_name",
    "company",
    "position",
    "headline",
    "linkedin_url",
    "email",
)


def allowed_variables(available: list[str] | None, leads: list[Lead]) -> list[str]:
    """The whitelist: ``available`` when the session was given one (``[]``: no variables at all), else
    the standard lead fields plus the leads' custom_fields keys."""
    if available is not None:
        return sorted(set(available))
    names = set(STANDARD_LEAD_VARS)
    for lead in leads:
        names.update(k for k in (lead.custom_fields or {}) if k.isidentifier())
    return sorted(names)
