"""The served API is exactly what contracts/openapi.yaml publishes: routes, bodies, rows, events."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import yaml

from api.app import create_app
from core.events import ChatStreamEvent
from core.payloads import (
    MAX_VAR_NAMES,
    CreateSessionInput,
    ExamplesInput,
    Lead,
    PatchSessionInput,
    SequenceContext,
    TurnInput,
)
from core.settings import Settings
from store.rows import SESSION_FIELDS as PUBLIC_COLUMNS, session_row
from tests.conftest import ROOT

CONTRACT = yaml.safe_load((ROOT / "contracts" / "openapi.yaml").read_text())
SCHEMAS = CONTRACT["components"]["schemas"]
METHODS = {"get", "post", "patch", "put", "delete"}


def _served_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    served = set()
    for route in app.routes:
        path = route.path_format.replace("{session_id}", "{id}")
        if not path.startswith(("/health", "/api/campaigns/")):
            continue  # the Trigger.dev-compatible realtime routes follow Trigger.dev's protocol, not this contract
        for method in getattr(route, "methods", ()):
            if method.lower() in METHODS:
                served.add((method.upper(), path.rstrip("/") or "/"))
    return served


def test_every_contract_operation_is_served_and_nothing_else() -> None:
    published = {(m.upper(), path) for path, item in CONTRACT["paths"].items() for m in item if m in METHODS}
    assert _served_routes() == published


@pytest.mark.parametrize(
    ("struct", "schema"),
    [
        (CreateSessionInput, "CreateSessionRequest"),
        (TurnInput, "TurnRequest"),
        (ExamplesInput, "ExamplesRequest"),
        (PatchSessionInput, "PatchSessionRequest"),
        (SequenceContext, "SequenceContext"),
        (Lead, "Lead"),
    ],
)
def test_request_bodies_match_the_contract(struct: Any, schema: str) -> None:
    published = SCHEMAS[schema]
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    assert set(fields) == set(published["properties"])
    required = {name for name, f in fields.items() if f.required}
    assert required == set(published.get("required", []))
    strict = struct.__struct_config__.forbid_unknown_fields
    assert strict == (published.get("additionalProperties") is False)


def test_the_session_row_has_exactly_the_published_fields() -> None:
    session = SCHEMAS["Session"]
    assert set(PUBLIC_COLUMNS) == set(session["properties"]) == set(session["required"])


def test_chat_stream_events_match_the_published_union() -> None:
    mapping = SCHEMAS["ChatStreamEvent"]["discriminator"]["mapping"]
    tags = {}
    for cls in ChatStreamEvent.__args__:
        tags[cls.__struct_config__.tag] = cls
    assert set(tags) == set(mapping)
    for tag, cls in tags.items():
        published = SCHEMAS[mapping[tag].rsplit("/", 1)[1]]
        fields = {f.encode_name for f in msgspec.structs.fields(cls)}
        assert fields | {"type"} == set(published["properties"]) == set(published["required"])
        assert published["properties"]["type"] == {"const": tag}


def test_the_sessions_memory_has_the_requests_types_and_bounds() -> None:
    """``available_var_names`` / ``sequence_context`` on the row are what TurnRequest accepts, bounds included."""
    row, turn = SCHEMAS["Session"]["properties"], SCHEMAS["TurnRequest"]["properties"]
    names = row["available_var_names"]
    assert names["type"] == turn["availableVarNames"]["type"] == ["array", "null"]
    assert names["maxItems"] == turn["availableVarNames"]["maxItems"] == MAX_VAR_NAMES
    assert names["items"] == turn["availableVarNames"]["items"] == {"$ref": "#/components/schemas/VarName"}
    assert row["sequence_context"]["oneOf"] == turn["sequenceContext"]["oneOf"]

    ids = {"id": "s", "user_id": "u", "campaign_id": "c", "node_id": "n"}
    typed = session_row({**ids, "available_var_names": ["v"] * MAX_VAR_NAMES,
                         "sequence_context": {"position": 1, "prior_nodes": [{"subject": "Hi"}]}})
    assert typed.sequence_context == SequenceContext(position=1, prior_nodes=[{"subject": "Hi"}])
    for bad in ({"available_var_names": ["v"] * (MAX_VAR_NAMES + 1)}, {"available_var_names": ["not a name"]},
                {"sequence_context": {"position": -1}}):
        with pytest.raises(msgspec.ValidationError):
            session_row({**ids, **bad})
