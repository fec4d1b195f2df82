"""Every published size limit is the one enforced: at the limit accepted, one past it 400 naming the
field (nothing dispatched), and the contract states the same numbers the code uses."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from core import payloads
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
