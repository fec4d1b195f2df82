"""GET …?campaign_id= a page at a time: `limit` (default 50, at most 200) and an opaque `cursor`,
in (created_at, id) order, every session once; bad values are 400 naming the parameter. Both engines."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from core.ids import utcnow
from core.payloads import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT
from services import pagination
from store import sessions
from tests.conftest import Api

BASE = "/api/campaigns/ai-chat-sessions"


async def page(api: Api, campaign: str, **params: Any) -> Any:
    response = await api.client.get(BASE, params={"campaign_id": campaign, **params}, headers=api.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def walk(api: Api, campaign: str, limit: int) -> tuple[list[str], list[int]]:
    """Every session id, following next_cursor; and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        body = await page(api, campaign, limit=limit, **({"cursor": cursor} if cursor else {}))
        ids += [s["id"] for s in body["sessions"]]
        sizes.append(len(body["sessions"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, sizes


async def test_pages_follow_the_cursor_through_every_session_once_oldest_first(api: Api) -> None:
    campaign = str(uuid.uuid4())
    made = [(await api.create_session(campaign_id=campaign))["id"] for _ in range(5)]
    everything = await page(api, campaign)
    assert [s["id"] for s in everything["sessions"]] == made and everything["next_cursor"] is None

    ids, sizes = await walk(api, campaign, limit=2)
    assert ids == made and sizes == [2, 2, 1]
    ids, sizes = await walk(api, campaign, limit=5)
    assert ids == made and sizes == [5]  # a full last page says so: no empty extra page


async def test_the_default_page_is_fifty_and_two_hundred_is_the_most(api: Api) -> None:
    campaign = str(uuid.uuid4())
    async with api.app.state.container.db.write() as conn:
        for _ in range(DEFAULT_LIST_LIMIT + 1):
            await conn.run_sync(sessions.create, user_id=api.user_id, campaign_id=campaign, node_id="n", title=None, now=utcnow())
    first = await page(api, campaign)
    assert len(first["sessions"]) == DEFAULT_LIST_LIMIT and first["next_cursor"]
    rest = await page(api, campaign, cursor=first["next_cursor"])
    assert len(rest["sessions"]) == 1 and rest["next_cursor"] is None
    assert len((await page(api, campaign, limit=MAX_LIST_LIMIT))["sessions"]) == DEFAULT_LIST_LIMIT + 1


async def test_sessions_created_at_the_same_instant_are_paged_by_id_without_loss(api: Api) -> None:
    campaign, now = str(uuid.uuid4()), utcnow()
    async with api.app.state.container.db.write() as conn:
        for _ in range(4):
            await conn.run_sync(sessions.create, user_id=api.user_id, campaign_id=campaign, node_id="n", title=None, now=now)
    ids, sizes = await walk(api, campaign, limit=1)
    assert ids == sorted(ids) and len(set(ids)) == 4 and sizes == [1, 1, 1, 1]


async def test_a_session_created_between_pages_comes_on_a_later_page_and_nothing_twice(api: Api) -> None:
    campaign = str(uuid.uuid4())
    made = [(await api.create_session(campaign_id=campaign))["id"] for _ in range(3)]
    first = await page(api, campaign, limit=2)
    made.append((await api.create_session(campaign_id=campaign))["id"])
    second = await page(api, campaign, limit=2, cursor=first["next_cursor"])
    assert [s["id"] for s in first["sessions"] + second["sessions"]] == made
    assert second["next_cursor"] is None


def token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


GOOD_ID = "8c2b2d4e-e29b-41d4-a716-446655440000"
BAD_CURSORS = {
    "not base64url": "abc+/def",
    "not base64 at all": "a",
    "not ascii inside": base64.urlsafe_b64encode("v1|é|x".encode()).decode().rstrip("="),
    "other version": token(f"v2|2026-01-01T00:00:00.000000+00:00|{GOOD_ID}"),
    "no time zone": token(f"v1|2026-01-01T00:00:00.000000|{GOOD_ID}"),
    "not a date": token(f"v1|yesterday|{GOOD_ID}"),
    "not a session id": token("v1|2026-01-01T00:00:00.000000+00:00|x' OR 1=1"),
    "too many parts": token(f"v1|2026-01-01T00:00:00+00:00|{GOOD_ID}|x"),
    "too long": "A" * 201,
    # a stamp with no time in UTC: the conversion overflowed (a 500 once)
    "before year one in UTC": token(f"v1|0001-01-01T00:00:00+05:00|{GOOD_ID}"),
    "after year 9999 in UTC": token(f"v1|9999-12-31T23:59:59-05:00|{GOOD_ID}"),
}


@pytest.mark.parametrize("cursor", list(BAD_CURSORS.values()), ids=list(BAD_CURSORS))
async def test_a_cursor_the_service_did_not_issue_is_400(api: Api, cursor: str) -> None:
    response = await api.client.get(BASE, params={"campaign_id": GOOD_ID, "cursor": cursor}, headers=api.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error" and response.json()["field"] == "cursor"


# "1" * 5000: past the digits int() reads (a 500 once)
@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "", "१", "1" * 5000, "0" * 4400 + "201"],
                         ids=["0", "201", "-1", "abc", "1.5", "empty", "devanagari", "5000 digits", "4400 zeros then 201"])
async def test_a_limit_outside_one_to_two_hundred_is_400(api: Api, limit: str) -> None:
    response = await api.client.get(BASE, params={"campaign_id": GOOD_ID, "limit": limit}, headers=api.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error" and response.json()["field"] == "limit"


async def test_a_limit_with_leading_zeros_is_still_its_number(api: Api) -> None:
    """Even past the 4,300 digits int() reads (a 500 once)."""
    campaign = str(uuid.uuid4())
    for _ in range(3):
        await api.create_session(campaign_id=campaign)
    assert len((await page(api, campaign, limit="0" * 4400 + "2"))["sessions"]) == 2


def test_a_cursor_round_trips_the_position() -> None:
    now = utcnow()
    assert pagination.decode(pagination.encode(now, GOOD_ID)) == (now, GOOD_ID)
