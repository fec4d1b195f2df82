"""Run ids: the shape Trigger.dev's SDK and our clients expect, and enough randomness to be unguessable."""

from __future__ import annotations

import re
from collections import Counter

from core.ids import new_request_id, new_run_id

RUN_ID = re.compile(r"run_[0-9a-z]{24}")


def test_a_run_id_is_run_and_24_lowercase_base36_characters() -> None:
    for _ in range(1000):
        assert RUN_ID.fullmatch(new_run_id())


def test_run_ids_do_not_repeat_and_use_every_digit_at_every_position_about_evenly() -> None:
    ids = [new_run_id()[4:] for _ in range(36 * 200)]
    assert len(set(ids)) == len(ids)
    for position in (0, 11, 23):  # the first, a middle and the last digit
        counts = Counter(i[position] for i in ids)
        assert set(counts) == set("0123456789abcdefghijklmnopqrstuvwxyz")
        # 200 expected per digit; a digit stuck at 0 or one twice as likely as it should be fails
        assert min(counts.values()) > 120 and max(counts.values()) < 290, counts


def test_request_ids_are_req_and_16_hex_characters() -> None:
    assert re.fullmatch(r"req_[0-9a-f]{16}", new_request_id())
