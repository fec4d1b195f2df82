"""How the offline model writes one lead's example: it fills the draft template from the lead.

``%var%`` becomes the lead's value (standard field or custom field), or a neutral fallback;
each ``&&instruction&&`` span becomes one plain sentence built from the lead's role and company.
On a retry it acts on the validator's feedback (a subject that is too long gets shortened).
"""

from __future__ import annotations

from typing import Any

from jobs.agent.offline_brief import clean
from jobs.agent.rules import MAX_SUBJECT_CHARS, SPAN_RE, VAR_RE

FALLBACKS = {"first_name": "there", "company": "your team", "position": "your role", "full_name": "there"}


def _values(lead: dict[str, Any]) -> dict[str, str]:
    values = {k: clean(str(v)) for k, v in (lead.get("custom_fields") or {}).items() if v not in (None, "")}
    values.update({k: clean(str(v)) for k, v in lead.items() if isinstance(v, str) and v.strip()})
    return values


def _span(instruction: str, values: dict[str, str]) -> str:
    role = values.get("position")
    company = values.get("company")
    if "result" in instruction.lower():
        return f"Teams like {company}'s saw results within the first quarter." if company else \
            "Teams like yours saw results within the first quarter."
    if role and company:
        return f"As {role} at {company}, you are likely the one who feels this first."
    if company:
        return f"Teams at {company} tend to feel this first."
    return "Teams like yours tend to feel this first."


def render(template: str, values: dict[str, str]) -> str:
    text = SPAN_RE.sub(lambda m: _span(m.group(1), values), template)
    return VAR_RE.sub(lambda m: values.get(m.group(1)) or FALLBACKS.get(m.group(1), ""), text)


def write_example(context: dict[str, Any], feedback: list[str]) -> dict[str, Any]:
    """Output-tool arguments for one lead's example email."""
    lead = context.get("lead") or {}
    draft = context.get("draft_template") or {}
    values = _values(lead)
    skeleton = context.get("skeleton") or {}
    subject_template = draft.get("subject") or f"A note for %company% about {skeleton.get('offer', 'an idea')}"
    body_template = draft.get("body") or f"Hi %first_name%,\n\n{skeleton.get('offer', '')}.\n\nBest regards"
    subject = " ".join(render(subject_template, values).split())
    if len(subject) > MAX_SUBJECT_CHARS and any("subject is" in f for f in feedback):
        subject = subject[:MAX_SUBJECT_CHARS].rsplit(" ", 1)[0]
    return {"subject": subject, "body": render(body_template, values)}
