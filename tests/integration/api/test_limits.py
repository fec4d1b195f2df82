"""Every published size limit is the one enforced: at the limit accepted, one past it 400 naming the
field (nothing dispatched), and the contract states the same numbers the code uses."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from core import limits, payloads
from tests.conftest import ROOT, Api

BASE = "/api/campaigns/ai-chat-sessions"
CONTRACT = yaml.safe_load((ROOT / "contracts" / "openapi.yaml").read_text())
SCHEMAS = CONTRACT["components"]["schemas"]


def test_the_contract_publishes_the_limits_the_code_enforces() -> None:
    turn, examples, lead = SCHEMAS["TurnRequest"]["properties"], SCHEMAS["ExamplesRequest"]["properties"], SCHEMAS["Lead"]
    assert turn["message"]["maxLength"] == payloads.MAX_MESSAGE_CHARS
    assert turn["availableVarNames"]["maxItems"] == payloads.MAX_VAR_NAMES
    assert turn["sampleLeads"]["maxItems"] == payloads.MAX_SAMPLE_LEADS
    assert examples["leads"]["maxItems"] == payloads.MAX_EXAMPLE_LEADS
    assert lead["properties"]["custom_fields"]["maxProperties"] == payloads.MAX_CUSTOM_FIELDS
    assert SCHEMAS["LeadText"]["maxLength"] == 1_000
    assert SCHEMAS["SequenceContext"]["properties"]["prior_nodes"]["maxItems"] == payloads.MAX_PRIOR_NODES
    description = CONTRACT["info"]["description"]
    for number in ("1 MiB", "8000", "100 `availableVarNames`", "25 `sampleLeads`", "50 `leads`", "50 `custom_fields`",
                   f"{payloads.MAX_JSON_DEPTH} levels deep"):
        assert number in description, number
    idem = CONTRACT["components"]["parameters"]["IdempotencyKey"]["schema"]
    assert (idem["minLength"], idem["maxLength"]) == (1, 255)


def lead(i: int) -> dict[str, Any]:
    return {"first_name": f"Lead{i}"}


TURN_LIMITS = [
    ("message", lambda n: {"message": "x" * n}, payloads.MAX_MESSAGE_CHARS),
    ("availableVarNames", lambda n: {"message": "hi", "availableVarNames": [f"v{i}" for i in range(n)]}, payloads.MAX_VAR_NAMES),
    ("sampleLeads", lambda n: {"message": "hi", "sampleLeads": [lead(i) for i in range(n)]}, payloads.MAX_SAMPLE_LEADS),
    ("sampleLeads[0].custom_fields",
     lambda n: {"message": "hi", "sampleLeads": [{"custom_fields": {f"f{i}": i for i in range(n)}}]}, payloads.MAX_CUSTOM_FIELDS),
    ("sampleLeads[0].company", lambda n: {"message": "hi", "sampleLeads": [{"company": "c" * n}]}, 1_000),
    ("sequenceContext.prior_nodes",
     lambda n: {"message": "hi", "sequenceContext": {"prior_nodes": [{}] * n}}, payloads.MAX_PRIOR_NODES),
]


@pytest.mark.parametrize(("field", "body", "limit"), TURN_LIMITS, ids=[t[0] for t in TURN_LIMITS])
async def test_turn_limits_hold_at_their_edge(api: Api, field: str, body: Any, limit: int) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}/turn"
    over = await api.client.post(url, json=body(limit + 1), headers=api.headers)
    assert over.status_code == 400, over.text
    assert over.json()["code"] == "validation_error" and over.json()["field"] == field
    assert (await api.get_session(session["id"]))["task_status"] is None  # nothing was claimed
    at = await api.client.post(url, json=body(limit), headers=api.headers)
    assert at.status_code == 202, at.text
    await api.wait_idle(session["id"])


async def test_generate_examples_takes_at_most_fifty_leads(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    await api.client.patch(url, json={"skeleton": {"hook": "h"}}, headers=api.headers)
    over = await api.client.post(f"{url}/generate-examples", json={"leads": [lead(i) for i in range(51)]}, headers=api.headers)
    assert over.status_code == 400 and over.json()["field"] == "leads"
    empty = await api.client.post(f"{url}/generate-examples", json={"leads": []}, headers=api.headers)
    assert empty.status_code == 400 and empty.json()["field"] == "leads"
    at = await api.client.post(f"{url}/generate-examples", json={"leads": [lead(i) for i in range(50)]}, headers=api.headers)
    assert at.status_code == 202, at.text
    done = await api.wait_idle(session["id"], timeout=30)
    assert len(done["generated_examples"]) == 50


async def test_a_body_over_the_configured_size_is_413_before_anything_else(api_factory: Any) -> None:
    api = await api_factory(max_body_bytes=4096)
    session = await api.create_session()
    response = await api.client.post(f"{BASE}/{session['id']}/turn", json={"message": "x" * 5000},
                                     headers={**api.headers, "Idempotency-Key": "big"})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    fits = await api.client.post(f"{BASE}/{session['id']}/turn", json={"message": "x" * 3000}, headers=api.headers)
    assert fits.status_code == 202


def test_the_contract_publishes_the_storage_caps_the_code_enforces() -> None:
    patch = SCHEMAS["PatchSessionRequest"]["properties"]
    assert patch["messages"]["maxItems"] == limits.MAX_MESSAGES
    assert SCHEMAS["ChatMessage"]["properties"]["content"]["maxLength"] == limits.MAX_STORED_MESSAGE_CHARS
    assert patch["skeleton_history"]["maxItems"] == limits.MAX_SKELETON_HISTORY
    assert patch["draft_history"]["maxItems"] == limits.MAX_DRAFT_HISTORY
    assert patch["generated_examples"]["maxItems"] == limits.MAX_GENERATED_EXAMPLES
    assert patch["draft_body"]["maxLength"] == limits.MAX_DRAFT_BODY_CHARS
    custom = SCHEMAS["Lead"]["properties"]["custom_fields"]
    assert custom["additionalProperties"]["maxLength"] == limits.MAX_CUSTOM_FIELD_CHARS
    description = CONTRACT["info"]["description"]
    for number in (f"{limits.MAX_SKELETON_CHARS}", f"{limits.MAX_EXAMPLE_CHARS}", f"{limits.MAX_DRAFT_CHARS}",
                   f"{limits.MAX_CUSTOM_FIELD_CHARS}", f"newest {limits.MAX_MESSAGES} `messages`",
                   "`field_too_large`"):
        assert number in description, number


def sized(chars: int) -> dict[str, str]:
    """A skeleton whose compact JSON is exactly ``chars`` characters."""
    return {"hook": "h" * (chars - len('{"hook":""}'))}


async def test_patch_free_form_values_hold_at_their_cap(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    over = await api.client.patch(url, json={"skeleton": sized(limits.MAX_SKELETON_CHARS + 1)}, headers=api.headers)
    assert over.status_code == 400, over.text
    assert (over.json()["code"], over.json()["field"]) == ("field_too_large", "skeleton")
    assert (await api.get_session(session["id"]))["skeleton"] is None  # nothing stored
    at = await api.client.patch(url, json={"skeleton": sized(limits.MAX_SKELETON_CHARS)}, headers=api.headers)
    assert at.status_code == 200, at.text

    examples = [{"lead_id": str(i)} for i in range(limits.MAX_GENERATED_EXAMPLES)]
    big = {"lead_id": "x", "body": "b" * limits.MAX_EXAMPLE_CHARS}
    over = await api.client.patch(url, json={"generated_examples": [*examples[:3], big]}, headers=api.headers)
    assert (over.status_code, over.json()["code"], over.json()["field"]) == (400, "field_too_large",
                                                                             "generated_examples[3]")
    over = await api.client.patch(url, json={"generated_examples": [*examples, {}]}, headers=api.headers)
    assert (over.status_code, over.json()["code"], over.json()["field"]) == (400, "validation_error",
                                                                             "generated_examples")
    assert (await api.client.patch(url, json={"generated_examples": examples}, headers=api.headers)).status_code == 200


@pytest.mark.parametrize("route", ["turn", "generate-examples"])
async def test_a_custom_field_value_over_its_cap_is_refused_before_anything_is_claimed(api: Api, route: str) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    await api.client.patch(url, json={"skeleton": {"hook": "h"}}, headers=api.headers)
    leads_key, extra = ("sampleLeads", {"message": "hi"}) if route == "turn" else ("leads", {})
    lead = {"first_name": "Ada", "custom_fields": {"note": "n" * (limits.MAX_CUSTOM_FIELD_CHARS + 1)}}
    over = await api.client.post(f"{url}/{route}", json={**extra, leads_key: [lead]}, headers=api.headers)
    assert over.status_code == 400, over.text
    assert (over.json()["code"], over.json()["field"]) == ("field_too_large", f"{leads_key}[0].custom_fields.note")
    assert (await api.get_session(session["id"]))["task_status"] is None
    lead["custom_fields"]["note"] = "n" * limits.MAX_CUSTOM_FIELD_CHARS
    at = await api.client.post(f"{url}/{route}", json={**extra, leads_key: [lead]}, headers=api.headers)
    assert at.status_code == 202, at.text
    await api.wait_idle(session["id"])


async def test_a_turn_and_an_appended_batch_keep_the_newest_entries_at_the_cap(api: Api) -> None:
    session = await api.create_session()
    url = f"{BASE}/{session['id']}"
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(limits.MAX_MESSAGES)]
    examples = [{"lead_id": f"old{i}", "status": "ok"} for i in range(limits.MAX_GENERATED_EXAMPLES)]
    patched = await api.client.patch(url, json={"messages": messages}, headers=api.headers)
    assert patched.status_code == 200, patched.text

    assert (await api.turn(session["id"], "Write an intro email for VPs of Sales")).status_code == 202
    done = await api.wait_idle(session["id"])
    assert len(done["messages"]) == limits.MAX_MESSAGES
    assert done["messages"][:-2] == messages[2:]
    assert [m["role"] for m in done["messages"][-2:]] == ["user", "assistant"]

    await api.client.patch(url, json={"skeleton": {"hook": "h"}, "generated_examples": examples}, headers=api.headers)
    batch = await api.client.post(f"{url}/generate-examples", json={"leads": [{"first_name": "Ada", "lead_id": "new1"},
                                                                             {"first_name": "Bo", "lead_id": "new2"}]},
                                  headers=api.headers)
    assert batch.status_code == 202, batch.text
    done = await api.wait_idle(session["id"], timeout=30)
    assert len(done["generated_examples"]) == limits.MAX_GENERATED_EXAMPLES
    assert [e["lead_id"] for e in done["generated_examples"][-2:]] == ["new1", "new2"]
    assert done["generated_examples"][0]["lead_id"] == "old2"
