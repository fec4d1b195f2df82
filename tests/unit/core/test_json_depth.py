"""The depth check a request body passes before it is decoded (core.payloads.nests_deeper_than)."""

from __future__ import annotations

import pytest

from core.payloads import MAX_JSON_DEPTH, _JSON_STRING, nests_deeper_than


@pytest.mark.parametrize("raw", [b'"' + b'\\"' * 1000, b'"abc', b'"abc\\', b'"a\\"b\\\\\\"c\\'],
                         ids=["escaped quotes", "plain", "a last backslash", "mixed"])
def test_a_string_that_never_closes_is_cut_out_in_one_match(raw: bytes) -> None:
    """A match that has started never fails: the earlier pattern failed on a string that never closes and was
    tried again at every quote inside it, the square of the body's length (a 128 KB body held the API's event
    loop for 36 s; 1 MiB, the body limit, about 40 minutes)."""
    match = _JSON_STRING.match(raw)
    assert match is not None and match.end() == len(raw)


def test_strings_are_still_cut_out_where_they_close() -> None:
    assert _JSON_STRING.sub(b"", b'["a\\\\", "b\\"c", "d"]') == b"[, , ]"


def test_brackets_inside_strings_do_not_count_and_outside_they_do() -> None:
    inside = b"[" * MAX_JSON_DEPTH + b'"\\"[[[[\\"{{"' + b"]" * MAX_JSON_DEPTH
    assert not nests_deeper_than(inside)
    assert nests_deeper_than(b"[" * (MAX_JSON_DEPTH + 1) + b'"' + b'\\"' * 10_000)  # malformed: its 400 either way
