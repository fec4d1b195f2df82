"""Bodies a careless or hostile client sends: too deeply nested, not UTF-8, NUL characters.

Each is a 400 ``{error, code}`` on every route that takes a body, before anything is claimed or stored,
and never a 500; what the contract allows (a lead's ignored extra keys holding anything) is accepted.
"""

from __future__ import annotations


import pytest

from core.payloads import MAX_JSON_DEPTH
from tests.conftest import Api

BASE = "/api/campaigns/ai-chat-sessions"


def nested(depth: int) -> bytes:
    """A JSON value ``depth`` levels deep, objects and arrays alternating (built as text: encoders
    recurse once per level too)."""
    opens = [b'{"k":' if level % 2 == 0 else b"[" for level in range(depth)]
    closes = [b"}" if level % 2 == 0 else b"]" for level in reversed(range(depth))]
    return b"".join(opens) + b"1" + b"".join(closes)


async def _routes(api: Api) -> list[tuple[str, str, bytes]]:
    """(method, url, a body with ``{X}`` where a free-form value goes, or an unknown key on create)."""
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    ids = (session["campaign_id"].encode(), session["node_id"].encode())
    return [
        ("POST", BASE, b'{"campaign_id":"%s","node_id":"%s","x":{X}}' % ids),
        ("PATCH", url, b'{"skeleton":{X}}'),
        ("POST", f"{url}/turn", b'{"message":"hi","sequenceContext":{"prior_nodes":[{X}]}}'),
        ("POST", f"{url}/generate-examples", b'{"leads":[{"custom_fields":{"a":{X}}}]}'),
    ]


async def test_a_thousand_levels_deep_body_is_400_on_every_body_route(api: Api) -> None:
    for method, url, template in await _routes(api):
        body = template.replace(b"{X}", nested(1_000))
        response = await api.client.request(method, url, content=body,
                                            headers={**api.headers, "content-type": "application/json"})
        assert response.status_code == 400, (method, url, response.text)
        assert response.json()["code"] == "validation_error" and str(MAX_JSON_DEPTH) in response.json()["error"]


async def test_the_depth_limit_holds_at_its_edge(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    headers = {**api.headers, "content-type": "application/json"}
    # {"skeleton": <value>} is one level more than the value itself.
    at = await api.client.patch(url, content=b'{"skeleton":%s}' % nested(MAX_JSON_DEPTH - 1), headers=headers)
    assert at.status_code == 200, at.text
    over = await api.client.patch(url, content=b'{"skeleton":%s}' % nested(MAX_JSON_DEPTH), headers=headers)
    assert over.status_code == 400 and over.json()["code"] == "validation_error", over.text
    # Brackets inside strings are text, not nesting.
    text = await api.client.patch(url, json={"skeleton": {"hook": "[" * 5_000}}, headers=api.headers)
    assert text.status_code == 200, text.text


@pytest.mark.parametrize("bad", [b"\xff", b"\xc3", b"\xed\xa0\x80"], ids=["ff", "truncated", "surrogate"])
async def test_a_body_that_is_not_utf8_is_400_on_every_body_route(api: Api, bad: bytes) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    text = b'"a' + bad + b'b"'
    create = b'{"campaign_id":"%s","node_id":"%s","title":%s}' % (session["campaign_id"].encode(),
                                                                  session["node_id"].encode(), text)
    cases = [
        ("POST", BASE, create),
        ("PATCH", url, b'{"skeleton":{"hook":%s}}' % text),
        ("POST", f"{url}/turn", b'{"message":%s}' % text),
        ("POST", f"{url}/turn", b'{%s:"hi"}' % text),  # in a key
        ("POST", f"{url}/generate-examples", b'{"leads":[{"first_name":%s}]}' % text),
    ]
    for method, target, body in cases:
        response = await api.client.request(method, target, content=body,
                                            headers={**api.headers, "content-type": "application/json"})
        assert response.status_code == 400, (method, target, response.text)
        assert response.json()["code"] == "invalid_json", response.text


async def test_nul_is_refused_where_it_would_be_stored_and_ignored_where_the_contract_ignores_it(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    refused = [
        ("PATCH", url, {"skeleton": {"hook": {"deep": ["a\x00b"]}}}),
        ("PATCH", url, {"generated_examples": [{"a\x00": 1}]}),
        ("POST", f"{url}/turn", {"message": "hi", "sampleLeads": [{"custom_fields": {"x": ["\x00"]}}]}),
    ]
    for method, target, body in refused:
        response = await api.client.request(method, target, json=body, headers=api.headers)
        assert response.status_code == 400 and "U+0000" in response.json()["error"], response.text
    assert (await api.get_session(session["id"]))["skeleton"] is None
    # A lead's extra columns are accepted and ignored, whatever they hold (the contract says so).
    ignored = await api.client.post(f"{url}/turn", json={"message": "hi", "sampleLeads": [{"crm_note": "a\x00b"}]},
                                    headers=api.headers)
    assert ignored.status_code == 202, ignored.text
    await api.wait_idle(session["id"])


async def test_a_string_that_never_closes_after_many_brackets_is_400_at_once(api: Api) -> None:
    """Its escaped quotes once made the depth check restart at every one of them (a 128 KB body held the
    API's event loop for 36 s); it is malformed JSON, refused like any other."""
    session = await api.create_session()
    body = b"[" * (MAX_JSON_DEPTH + 1) + b'"' + b'\\"' * 50_000
    response = await api.client.patch(f"{BASE}/{session['id']}", content=body,
                                      headers={**api.headers, "content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "validation_error", response.text
