"""core.text.normalize: the one normaliser every output rule reads text through."""

from __future__ import annotations

import pytest

from core.text import normalize

INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "word joiner": "\u2060",
    "invisible separator": "\u2063",
    "soft hyphen": "\u00ad",
    "byte order mark": "\ufeff",
    "left-to-right embedding": "\u202a",
    "right-to-left override": "\u202e",
    "first strong isolate": "\u2068",
    "combining grapheme joiner": "\u034f",
    "Mongolian vowel separator": "\u180e",
    "variation selector 16": "\ufe0f",
    "tag space": "\U000e0020",
    "Hangul filler": "\u3164",
    "null": "\x00",
    "delete": "\x7f",
}


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_invisible_characters_are_removed(char: str) -> None:
    assert normalize(f"act{char} now") == "act now"
    assert normalize(f"a{char}c{char}t now") == "act now"


def test_compatibility_forms_fold_to_plain_text() -> None:
    assert normalize("\uff41\uff43\uff54 now") == "act now"  # fullwidth letters
    assert normalize("act\u00a0now") == "act now"  # no-break space
    assert normalize("act\u2003now") == "act now"  # em space
    assert normalize("\ufb01nancial") == "financial"  # ligature
    assert normalize("\uff05ssn\uff05") == "%ssn%"  # fullwidth percent signs
    assert normalize("\u00bd") == "1\u20442"  # NFKC, not ASCII folding


def test_visible_text_is_kept_as_it_is() -> None:
    for text in ("Hi %first_name%,\n\n\tWe cut ramp time by 40%.", "Café, naïve, Zürich", "日本語のテキスト", "emoji 🚀 ok", ""):
        assert normalize(text) == text
    assert normalize("Ünïcödé") == "Ünïcödé"  # composed characters stay composed
    assert normalize("Cafe\u0301") == "Café"  # a decomposed accent is composed (NFKC)


def test_plain_ascii_is_returned_without_work() -> None:
    text = "Hi %first_name%, a plain ASCII body.\n"
    assert normalize(text) is text
