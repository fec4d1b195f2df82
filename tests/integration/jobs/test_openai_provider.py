"""End to end over HTTP with the real OpenAI provider code (``LLM_MODEL=openai:…`` + ``OPENAI_BASE_URL``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic_ai.models import override_allow_model_requests

from core.settings import Settings
from jobs.agent.pricing import estimate_cost
from jobs.llm_factory import build_llm
from tests.support.openai_stub import StubHttpError, openai_stub
from tests.support.scripted import LEAD_JSON, generate_examples, run_events, run_row, turn

KEY = "sk-test-local-0123456789abcdef"
GOOD = {"reply": "Here is a first draft for your VPs of Sales.", "draft_subject": "Ramp time at %company%",
        "draft_body": "Hi %first_name%,\n\n&&one line on ramp time for %company%&&\n\nWorth a 15-minute demo?",
        "skeleton": None}


def openai_llm(settings: Settings, stub_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    env = {"LLM_MODEL": "openai:gpt-4o-mini", "OPENAI_BASE_URL": stub_url}
    configured = Settings.from_env(env)  # the same variables an operator sets
    return build_llm(replace(settings, llm_model=configured.llm_model, openai_base_url=configured.openai_base_url))


def rejected_before(body: dict[str, Any]) -> list[str]:
    return [str(m["content"]) for m in body["messages"] if m["role"] == "tool" and "rejected" in str(m["content"])]


def answer(body: dict[str, Any]) -> dict[str, Any]:
    params = body["tools"][0]["function"]["parameters"]["properties"]
    if "reply" not in params:  # an example for one lead
        lead = next(m["content"] for m in body["messages"] if m["role"] == "user")
        name = "Sara" if "Sara" in lead else "there"
        return {"subject": "Ramp time at Acme", "body": f"Hi {name},\n\nRamp time, halved."}
    if not rejected_before(body):
        return {**GOOD, "draft_body": "Hi %first_name%, I saw your %salary%."}
    return GOOD


async def test_a_turn_runs_through_the_openai_provider_with_a_validation_retry(
    api_factory: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with openai_stub(answer) as stub, override_allow_model_requests(True):
        api = await api_factory(llm=openai_llm(settings, stub.url, monkeypatch))
        session = await api.create_session()
        run_id, after = await turn(api, session["id"], "Intro email for VPs of Sales",
                                   availableVarNames=["first_name", "company"])

    assert after["last_run"]["error"] is None, after["last_run"]
    assert after["draft_body"] == GOOD["draft_body"] and after["messages"][-1]["content"] == GOOD["reply"]
    assert [s.path for s in stub.seen[:2]] == ["/v1/chat/completions"] * 2
    assert all(s.authorization == f"Bearer {KEY}" for s in stub.seen)
    first, second = stub.seen[0].body, stub.seen[1].body
    assert first["model"] == "gpt-4o-mini" and first["stream"] is True
    assert "%salary%" in rejected_before(second)[0] and "%first_name%" in rejected_before(second)[0]
    run = await run_row(api, run_id)
    assert run["output"]["validation_retries"] == 1 and run["usage"]["requests"] == 2
    usage = run["usage"]
    assert usage["input_tokens"] > 0
    assert usage["cost_usd"] == estimate_cost("openai:gpt-4o-mini", usage["input_tokens"], usage["output_tokens"]) > 0
    deltas = [e["text"] for e in await run_events(api, run_id) if e["type"] == "reply_delta"]
    assert len(deltas) > 1 and "".join(deltas).endswith(GOOD["reply"])


async def test_examples_run_through_the_openai_provider(
    api_factory: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.scripted import skeleton

    def with_skeleton(body: dict[str, Any]) -> dict[str, Any]:
        out = answer(body)
        return {**out, "skeleton": skeleton()} if "reply" in out else out

    with openai_stub(with_skeleton) as stub, override_allow_model_requests(True):
        api = await api_factory(llm=openai_llm(settings, stub.url, monkeypatch))
        session = await api.create_session()
        await turn(api, session["id"], "Intro email", availableVarNames=["first_name", "company", "position"])
        _, after = await generate_examples(api, session["id"], LEAD_JSON[:1])
    [example] = after["generated_examples"]
    assert (example["status"], example["subject"], example["body"]) == ("ok", "Ramp time at Acme", "Hi Sara,\n\nRamp time, halved.")
    assert stub.seen[-1].body.get("stream") in (None, False)


async def test_a_provider_error_fails_the_turn_with_model_error_and_no_key_in_the_message(
    api_factory: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unauthorized(body: dict[str, Any]) -> dict[str, Any]:
        raise StubHttpError(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                                            "code": "invalid_api_key"}})

    with openai_stub(unauthorized) as stub, override_allow_model_requests(True):
        api = await api_factory(llm=openai_llm(settings, stub.url, monkeypatch))
        session = await api.create_session()
        run_id, after = await turn(api, session["id"], "Intro email")
    assert stub.seen
    error = after["last_run"]["error"]
    assert error["code"] == "model_error" and "401" in error["message"]
    assert KEY not in error["message"] and KEY[:12] not in str(await run_row(api, run_id))
    assert after["task_status"] is None and after["messages"] == [{"role": "user", "content": "Intro email"}]


async def test_a_hosted_model_is_told_the_standing_requests_and_the_whitelist_and_held_to_the_same_rules(
    api_factory: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.agent.prompts import read_context
    from tests.support.scripted import skeleton

    def user_prompt(body: dict[str, Any]) -> str:
        return next(str(m["content"]) for m in body["messages"] if m["role"] == "user")

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        context = read_context(user_prompt(body))
        if "signature: Tom" not in context["standing_requests"]:
            return {**GOOD, "skeleton": skeleton()}  # the first turn
        if not rejected_before(body):  # a gullible answer: a forbidden variable where the old rules never looked
            return {**GOOD, "skeleton": {**skeleton(), "audience": "VPs of Sales, by %ssn%"}}
        return {**GOOD, "reply": "Added the SOC 2 report; still casual, signed Tom, under 80 words.",
                "skeleton": skeleton()}

    with openai_stub(answer) as stub, override_allow_model_requests(True):
        api = await api_factory(llm=openai_llm(settings, stub.url, monkeypatch))
        session = await api.create_session()
        vars_ = {"availableVarNames": ["first_name", "company", "position"]}
        _, first = await turn(api, session["id"], "Intro email for VPs of Sales. Make it casual, sign it Tom, under 80 "
                                                  "words.", **vars_)
        assert first["last_run"]["error"] is None
        # no availableVarNames: the session's whitelist from the first turn is what the model is held to
        run_id, after = await turn(api, session["id"], "Now mention our SOC 2 report")

    first_try, retry = stub.seen[-2].body, stub.seen[-1].body
    system = " ".join(str(m["content"]) for m in first_try["messages"] if m["role"] == "system")
    assert "standing_requests lists what the user asked for in earlier turns" in system
    assert "Rules for every text you write (reply, audience, offer" in system
    context = read_context(user_prompt(first_try))
    assert context["standing_requests"] == ["audience: VPs of Sales", "tone: casual", "length: at most 79 words",
                                            "signature: Tom"]
    assert context["allowed_variables"] == ["company", "first_name", "position"]
    assert user_prompt(first_try).endswith("Now mention our SOC 2 report")
    [rejection] = rejected_before(retry)
    assert "skeleton.audience uses %ssn%, which is not allowed" in rejection
    assert "Allowed variables: %company%, %first_name%, %position%" in rejection
    assert after["last_run"]["error"] is None and after["skeleton"] == skeleton()
    assert "%ssn%" not in repr(after["skeleton_history"]) + repr(after["messages"])
    assert (await run_row(api, run_id))["output"]["validation_retries"] == 1
