"""Storage caps: how much a session may hold, and what happens at each cap.

Everything a session stores is bounded, whoever writes it:

* **What grows with every task keeps its newest entries** (the oldest are dropped when a task
  appends): ``messages`` (the transcript), ``skeleton_history``, ``draft_history`` and
  ``generated_examples`` (examples appended by ``isFirstBatch: false``).
* **Free-form values are capped in size**, measured in characters of their compact JSON (a string:
  its length): ``skeleton``, each item of the histories and of ``generated_examples``, each
  ``custom_fields`` value of a lead (they reach the prompt). A client that sends more gets
  ``400 field_too_large`` naming the field, and nothing is stored or dispatched; the model's own
  output is held to the same caps by the output rules (it is asked to shorten, then the turn fails).
* Counts and string lengths a JSON Schema can state are in ``contracts/openapi.yaml`` (``maxItems``,
  ``maxLength``) and refused with ``400 validation_error``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from core.errors import BadRequest

MAX_MESSAGES = 100  # the transcript keeps the newest 100 messages (50 turns)
MAX_STORED_MESSAGE_CHARS = 20_000  # one message's content (a PATCHed transcript)
MAX_SKELETON_HISTORY = 20
MAX_DRAFT_HISTORY = 20
MAX_GENERATED_EXAMPLES = 100
MAX_SKELETON_CHARS = 16_000  # the skeleton, and each skeleton_history item
MAX_DRAFT_CHARS = 52_000  # each draft_history item ({subject ≤ 1000, body ≤ 50000})
MAX_EXAMPLE_CHARS = 16_000  # each generated example
MAX_CUSTOM_FIELD_CHARS = 1_000  # each custom_fields value of a lead
# The model's own output, so what it writes fits the caps above.
MAX_REPLY_CHARS = 10_000
MAX_DRAFT_BODY_CHARS = 50_000
MAX_EXAMPLE_BODY_CHARS = 10_000

_encode = msgspec.json.Encoder().encode

# PATCH fields whose items are free-form objects: (cap per item).
_ITEM_CAPS = {"skeleton_history": MAX_SKELETON_CHARS, "draft_history": MAX_DRAFT_CHARS,
              "generated_examples": MAX_EXAMPLE_CHARS}


def json_chars(value: Any) -> int:
    """Size of a value as the caps measure it: a string's length, else its compact JSON's."""
    if isinstance(value, str):
        return len(value)
    return len(_encode(value).decode())


def newest(items: list[Any] | None, cap: int) -> list[Any]:
    """The last ``cap`` items (what a growing list keeps)."""
    items = list(items or [])
    return items[-cap:] if len(items) > cap else items


def too_large(field: str, size: int, cap: int) -> BadRequest:
    return BadRequest(f"`{field}` is {size} characters as JSON; at most {cap} are stored", code="field_too_large",
                      field=field)


def check_session_fields(values: Mapping[str, Any]) -> None:
    """A PATCH's free-form values against their caps (400 ``field_too_large`` naming the first over)."""
    skeleton = values.get("skeleton")
    if skeleton is not None and (size := json_chars(skeleton)) > MAX_SKELETON_CHARS:
        raise too_large("skeleton", size, MAX_SKELETON_CHARS)
    for name, cap in _ITEM_CAPS.items():
        for i, item in enumerate(values.get(name) or []):
            if (size := json_chars(item)) > cap:
                raise too_large(f"{name}[{i}]", size, cap)


def check_leads(leads: Iterable[Any] | None, where: str) -> None:
    """Each lead's ``custom_fields`` values against their cap (they are written into the prompt)."""
    for i, lead in enumerate(leads or []):
        for key, value in (lead.custom_fields or {}).items():
            if (size := json_chars(value)) > MAX_CUSTOM_FIELD_CHARS:
                raise too_large(f"{where}[{i}].custom_fields.{key}", size, MAX_CUSTOM_FIELD_CHARS)
