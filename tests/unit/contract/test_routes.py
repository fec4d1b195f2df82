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


def _resolve(schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if not ref:
        return None, schema
    _, _, section, name = ref.split("/")
    return ref, CONTRACT["components"][section][name]


def _refuses_nul(schema: dict[str, Any]) -> bool:
    import re

    if "enum" in schema:
        return all(not isinstance(v, str) or "\x00" not in v for v in schema["enum"])
    pattern = schema.get("pattern")
    return pattern is not None and not any(re.search(pattern, s) for s in ("\x00", "a\x00", "\x00b", "a\x00b"))


def _walk_request_schema(schema: dict[str, Any], where: str, seen: set[str], problems: list[str]) -> None:
    ref, schema = _resolve(schema)
    if ref in seen:
        return
    if ref:
        seen.add(ref)
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            _walk_request_schema(sub, f"{where}.{key}[{i}]", seen, problems)
    if "type" not in schema and any(key in schema for key in ("oneOf", "anyOf", "allOf")):
        return  # a composition: its branches were checked
    types = schema.get("type")
    types = {types} if isinstance(types, str) else set(types or ["string", "object", "array"])
    if "string" in types and not _refuses_nul(schema) and "const" not in schema:
        problems.append(f"{where}: a string without a pattern that refuses U+0000")
    if "object" in types and schema.get("additionalProperties") is not False and ref != "#/components/schemas/Lead":
        if not _refuses_nul(schema.get("propertyNames", {})):
            problems.append(f"{where}: object keys may hold U+0000")
        extra = schema.get("additionalProperties")
        if not isinstance(extra, dict):
            problems.append(f"{where}: free-form values are not constrained")
        else:
            _walk_request_schema(extra, f"{where}.*", seen, problems)
    for name, sub in (schema.get("properties") or {}).items():
        _walk_request_schema(sub, f"{where}.{name}", seen, problems)
    if "array" in types and isinstance(schema.get("items"), dict):
        _walk_request_schema(schema["items"], f"{where}[]", seen, problems)


def test_the_contract_states_the_nul_rule_for_every_request_string_at_any_depth() -> None:
    """The server refuses U+0000 in every string it keeps (PostgreSQL cannot store it), so the published
    schemas must say so everywhere, free-form objects included (recursively, through FreeValue), or a
    fuzzer generating schema-valid data finds requests the server refuses. A lead's extra keys are the
    exception: ignored by the server, unconstrained in the contract."""
    problems: list[str] = []
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                _walk_request_schema(body, f"{method.upper()} {path}", set(), problems)
            for parameter in operation.get("parameters", []) + item.get("parameters", []):
                _, parameter = _resolve(parameter)
                if parameter.get("in") != "path":
                    _walk_request_schema(parameter["schema"], f"{method.upper()} {path} {parameter['name']}", set(),
                                         problems)
    assert problems == []


def test_the_contract_publishes_the_connection_limits_and_codes_the_server_uses() -> None:
    from api import server
    from core.settings import Settings as Defaults

    defaults = Defaults()
    text = " ".join(CONTRACT["info"]["description"].split())
    for stated in (f"`CAMPAIGN_CHAT_MAX_HEADER_BYTES` ({defaults.max_header_bytes // 1024} KiB",
                   f"`CAMPAIGN_CHAT_HEADER_TIMEOUT_SECONDS` ({defaults.header_timeout_seconds:g} s)",
                   f"`CAMPAIGN_CHAT_BODY_TIMEOUT_SECONDS` ({defaults.body_timeout_seconds:g} s)",
                   f"`CAMPAIGN_CHAT_KEEP_ALIVE_SECONDS` ({defaults.keep_alive_seconds:g} s)",
                   f"`CAMPAIGN_CHAT_MAX_CONNECTIONS` ({defaults.max_connections})",
                   f"`CAMPAIGN_CHAT_AUTH_FAILURES_PER_MINUTE` times in the current minute (default "
                   f"{defaults.auth_failures_per_minute})"):
        assert stated in text, stated
    responses = CONTRACT["components"]["responses"]
    documented = {"408": "RequestTimeout", "431": "HeadersTooLarge", "503": "Unavailable"}
    for status, reason, code, _ in (server.HEAD_TOO_LARGE, server.HEAD_TIMEOUT, server.TOO_MANY, server.MALFORMED):
        assert code in text, code
        if str(status) in documented:
            assert f"`code: {code}`" in responses[documented[str(status)]]["description"], code
    assert "`code: auth_throttled`" in responses["RateLimited"]["description"]
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                for status in documented:  # the server's own limits apply to every operation
                    assert status in operation["responses"], (method, path, status)
