"""One text normaliser for every check that matches words in model output.

``normalize`` returns the text a reader effectively sees: Unicode NFKC (fullwidth letters, ligatures,
non-breaking and other compatibility spaces folded to their plain forms) with the characters that
render as nothing removed: zero-width space/joiner/non-joiner, word joiner and the other invisible
operators (U+2060–U+2064), soft hyphen, byte order mark, bidirectional marks, embeddings, overrides
and isolates, variation selectors, tag characters, Hangul fillers, and control characters other
than tab, newline and carriage return. Without it, "act\u200b now" or "ａｃｔ now" slips past a
phrase check that "act now" would not.

Case is kept (callers that compare words fold it themselves). Plain ASCII text without control
characters, the common case, is returned as it is without any work.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # control characters except \t \n \r
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u061c"  # Arabic letter mark
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers
    "\u17b4\u17b5"  # Khmer inherent vowels (render as nothing)
    "\u180b-\u180f"  # Mongolian free variation selectors and vowel separator
    "\u200b-\u200f"  # zero-width space, non-joiner, joiner; left-to-right and right-to-left marks
    "\u202a-\u202e"  # bidirectional embeddings and overrides
    "\u2060-\u2064"  # word joiner and invisible operators
    "\u2066-\u206f"  # bidirectional isolates and deprecated format characters
    "\ufe00-\ufe0f"  # variation selectors
    "\ufeff"  # byte order mark / zero-width no-break space
    "\ufff9-\ufffb"  # interlinear annotation characters
    "\U0001d173-\U0001d17a"  # musical formatting characters
    "\U000e0000-\U000e007f"  # tag characters
    "\U000e0100-\U000e01ef"  # variation selectors supplement
    "]"
)
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize(text: str) -> str:
    """``text`` in Unicode NFKC with invisible characters removed (see the module docstring)."""
    if text.isascii() and not _ASCII_CONTROL.search(text):
        return text
    # Remove before folding (so characters around an invisible one compose) and after (NFKC may
    # turn a compatibility character into one of them, e.g. halfwidth Hangul filler).
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)))
