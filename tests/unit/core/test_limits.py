"""core.limits: how sizes are measured, what a growing list keeps, and which field a refusal names."""

from __future__ import annotations

import pytest

from core import limits
from core.errors import BadRequest
from core.payloads import Lead


def test_a_string_counts_its_length_anything_else_its_compact_json() -> None:
    assert limits.json_chars("héllo") == 5
    assert limits.json_chars({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert limits.json_chars({"é": "ü"}) == len('{"é":"ü"}')  # characters, not UTF-8 bytes


def test_a_growing_list_keeps_its_newest_entries() -> None:
    assert limits.newest(list(range(10)), 3) == [7, 8, 9]
    assert limits.newest([1, 2], 3) == [1, 2]
    assert limits.newest(None, 3) == []


def at_size(chars: int) -> dict[str, str]:
    """An object whose compact JSON is exactly ``chars`` characters."""
    return {"k": "x" * (chars - len('{"k":""}'))}


@pytest.mark.parametrize(("field", "cap", "body"), [
    ("skeleton", limits.MAX_SKELETON_CHARS, lambda item: {"skeleton": item}),
    ("skeleton_history[1]", limits.MAX_SKELETON_CHARS, lambda item: {"skeleton_history": [{}, item]}),
    ("draft_history[0]", limits.MAX_DRAFT_CHARS, lambda item: {"draft_history": [item]}),
    ("generated_examples[2]", limits.MAX_EXAMPLE_CHARS, lambda item: {"generated_examples": [{}, {}, item]}),
])
def test_free_form_session_values_are_refused_one_past_their_cap(field: str, cap: int, body) -> None:  # type: ignore[no-untyped-def]
    limits.check_session_fields(body(at_size(cap)))
    with pytest.raises(BadRequest) as refused:
        limits.check_session_fields(body(at_size(cap + 1)))
    assert (refused.value.status, refused.value.code, refused.value.field) == (400, "field_too_large", field)


def test_a_custom_field_value_is_capped_whatever_its_type() -> None:
    cap = limits.MAX_CUSTOM_FIELD_CHARS
    limits.check_leads([Lead(custom_fields={"note": "x" * cap, "tags": ["a"] * 100})], "leads")
    for value in ("x" * (cap + 1), ["abc"] * 200, {"nested": "y" * cap}):
        with pytest.raises(BadRequest) as refused:
            limits.check_leads([Lead(), Lead(custom_fields={"ok": 1, "big": value})], "sampleLeads")
        assert (refused.value.code, refused.value.field) == ("field_too_large", "sampleLeads[1].custom_fields.big")
