"""A gullible model puts a forbidden variable (or a spam phrase) into one field at a time: every
text field the model writes is refused by the agent's output validator (ModelRetry) and the retry
is what gets accepted. The model is a pydantic-ai FunctionModel run by the real AgentLLM."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.events import RecordingReporter, RetryEvent
from jobs.llm import ExampleContext
from tests.support.scripted import LEADS, feedback, scripted_llm, skeleton, turn_context

CLEAN = {"reply": "Here is a draft.", "skeleton": skeleton(), "draft_subject": "Idea for %company%",
         "draft_body": "Hi %first_name%,\n\n&&one line on ramp time at %company%&&\n\nWorth a 15-minute demo?"}
BLOCK_FIELDS = [f"skeleton.{block}.{part}" for block in ("hook", "value_prop", "proof", "cta")
                for part in ("strategy", "personalization.approach", "personalization.fallback")]
TURN_FIELDS = ["reply", "skeleton.audience", "skeleton.offer", *BLOCK_FIELDS, "draft_subject", "draft_body"]


def smuggle(field: str, words: str) -> dict[str, Any]:
    """CLEAN with ``words`` appended to one field (a dotted path into the output)."""
    out = copy.deepcopy(CLEAN)
    *path, last = field.split(".")
    target = out
    for key in path:
        target = target[key]
    target[last] = f"{target[last]} {words}"
    return out


def gullible(bad: dict[str, Any], good: dict[str, Any]) -> Any:
    return lambda messages: good if feedback(messages) else bad


@pytest.mark.parametrize("field", TURN_FIELDS)
async def test_a_forbidden_variable_in_any_turn_field_is_refused_and_retried(field: str) -> None:
    reporter = RecordingReporter()
    llm = scripted_llm(gullible(smuggle(field, "(use %ssn% here)"), CLEAN))
    result = await llm.chat_turn(turn_context(available=["first_name", "company", "position"]), reporter)
    assert result.retries == 1
    [retry] = [e for e in reporter.events if isinstance(e, RetryEvent)]
    assert retry.reason.startswith(f"{field} uses %ssn%"), retry.reason
    assert "%ssn%" not in repr((result.reply, result.skeleton, result.draft_subject, result.draft_body))


@pytest.mark.parametrize("block", ["hook", "value_prop", "proof", "cta"])
async def test_a_forbidden_name_in_any_blocks_personalization_fields_is_refused_and_retried(block: str) -> None:
    bad = copy.deepcopy(CLEAN)
    bad["skeleton"][block]["personalization"]["fields"] = ["first_name", "ssn"]
    reporter = RecordingReporter()
    context = turn_context(available=["first_name", "company", "position"])
    result = await scripted_llm(gullible(bad, CLEAN)).chat_turn(context, reporter)
    assert result.retries == 1 and "ssn" not in repr(result.skeleton)
    [retry] = [e for e in reporter.events if isinstance(e, RetryEvent)]
    assert retry.reason.startswith(f"skeleton.{block}.personalization.fields lists ssn"), retry.reason


def test_every_text_field_of_a_turn_is_covered() -> None:
    """The fields smuggled into above are every string the output model has (a new field needs a row)."""
    from jobs.agent.output import TurnOutput

    def strings(schema: dict[str, Any], defs: dict[str, Any], prefix: str) -> set[str]:
        found: set[str] = set()
        for name, prop in schema.get("properties", {}).items():
            options = prop.get("anyOf", [prop])
            for option in options:
                if "$ref" in option:
                    found |= strings(defs[option["$ref"].rsplit("/", 1)[1]], defs, f"{prefix}{name}.")
                elif option.get("type") == "string":
                    found.add(f"{prefix}{name}")
        return found

    schema = TurnOutput.model_json_schema()
    assert strings(schema, schema["$defs"], "") == set(TURN_FIELDS)


@pytest.mark.parametrize("field", [f for f in TURN_FIELDS if f != "reply"])
async def test_a_spam_phrase_in_any_email_field_is_refused_and_retried(field: str) -> None:
    reporter = RecordingReporter()
    llm = scripted_llm(gullible(smuggle(field, "act\u200b now"), CLEAN))  # hidden behind a zero-width space
    result = await llm.chat_turn(turn_context(available=["first_name", "company", "position"]), reporter)
    assert result.retries == 1
    [retry] = [e for e in reporter.events if isinstance(e, RetryEvent)]
    assert retry.reason.startswith(f"{field} contains the spam-trigger phrase 'act now'"), retry.reason


async def test_the_reply_may_quote_a_spam_phrase() -> None:
    answer = {**CLEAN, "reply": "I removed \u201cact now\u201d from the subject."}
    result = await scripted_llm(lambda messages: answer).chat_turn(turn_context(), RecordingReporter())
    assert result.retries == 0 and result.reply == answer["reply"]


@pytest.mark.parametrize("field", ["subject", "body"])
@pytest.mark.parametrize("words", ["%ssn%", "act now", "&&a span&&"])
async def test_an_example_field_with_a_placeholder_or_spam_is_refused_and_retried(field: str, words: str) -> None:
    good = {"subject": "Ramp time at Acme", "body": "Hi Sara,\n\nA short note about ramp time."}
    bad = {**good, field: f"{good[field]} {words}"}
    ctx = ExampleContext(lead=LEADS[0], skeleton=skeleton(), draft_subject="Ramp time at %company%",
                         draft_body="Hi %first_name%", allowed_vars=["company", "first_name"], sequence_context=None)
    reporter = RecordingReporter()
    result = await scripted_llm(gullible(bad, good)).write_example(ctx, reporter)
    assert (result.subject, result.body) == (good["subject"], good["body"])
    [retry] = [e for e in reporter.events if isinstance(e, RetryEvent)]
    assert retry.reason.startswith(field), retry.reason
