"""The output rules: what the validators reject, and that their messages tell the model how to fix it."""

from __future__ import annotations

from jobs.agent.output import ExampleOutput, TurnOutput
from jobs.agent.rules import example_problems, turn_problems

ALLOWED = ["company", "first_name", "position"]


def problems(subject: str | None = "Quick idea for %company%", body: str | None = "Hi %first_name%,") -> list[str]:
    return turn_problems(TurnOutput(reply="ok", draft_subject=subject, draft_body=body), ALLOWED)


def test_a_compliant_template_passes() -> None:
    body = "Hi %first_name%,\n\n&&One line on %position% pain&&\n\nWe cut ramp time by 40%.\n\nWorth a chat?"
    assert problems(body=body) == []


def test_a_variable_outside_the_whitelist_is_named_with_the_allowed_list() -> None:
    [problem] = problems(body="Hi %first_name%, your SSN %customer_ssn% and %iban%")
    assert "%customer_ssn%, %iban%" in problem and "not allowed" in problem
    assert "%company%, %first_name%, %position%" in problem


def test_a_stray_percent_sign_is_a_malformed_placeholder() -> None:
    [problem] = problems(body="Hi %first name%, thanks")
    assert "stray '%'" in problem and "%name%" in problem


def test_an_unclosed_span_is_rejected() -> None:
    [problem] = problems(body="Hi %first_name%, &&one line about them")
    assert "unclosed '&&'" in problem


def test_an_empty_span_is_rejected() -> None:
    [problem] = problems(body="Hi %first_name%, && &&")
    assert "empty &&&& span" in problem


def test_a_subject_over_60_characters_is_rejected_with_its_length() -> None:
    [problem] = problems(subject="x" * 61)
    assert "61 characters" in problem and "60 or fewer" in problem
    assert problems(subject="x" * 60) == []


def test_spam_trigger_phrases_are_named() -> None:
    [problem] = problems(body="Hi %first_name%, act now: results GUARANTEED")
    assert "'act now', 'guaranteed'" in problem


def test_skeleton_personalization_fields_must_be_allowed() -> None:
    block = {"strategy": "s", "personalization": {"fields": ["first_name", "salary"], "approach": "a", "fallback": "f"}}
    out = TurnOutput.model_validate({"reply": "r", "skeleton": {"audience": "a", "offer": "o", "hook": block,
                                                                 "value_prop": block, "proof": block, "cta": block}})
    found = turn_problems(out, ALLOWED)
    assert len(found) == 4 and all("salary" in p for p in found)


def test_examples_must_be_fully_rendered() -> None:
    found = example_problems(ExampleOutput(subject="Idea for %company%", body="Hi Sara, &&hook&&"))
    assert any("%company%" in p and "actual value" in p for p in found)
    assert any("&& span" in p for p in found)
    assert example_problems(ExampleOutput(subject="Idea for Acme", body="Hi Sara, we cut ramp by 40%.")) == []
