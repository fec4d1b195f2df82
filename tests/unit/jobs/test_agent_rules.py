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


# ---- every text field is checked, through one normaliser

def _skeleton(**changes: str) -> dict[str, object]:
    def block(name: str) -> dict[str, object]:
        return {"strategy": changes.get(f"{name}.strategy", "s"),
                "personalization": {"fields": ["first_name"], "approach": changes.get(f"{name}.approach", "a"),
                                    "fallback": changes.get(f"{name}.fallback", "f")}}

    return {"audience": changes.get("audience", "VPs of Sales"), "offer": changes.get("offer", "Rampwise"),
            **{name: block(name) for name in ("hook", "value_prop", "proof", "cta")}}


SKELETON_FIELDS = ["audience", "offer"] + [f"{b}.{part}" for b in ("hook", "value_prop", "proof", "cta")
                                          for part in ("strategy", "approach", "fallback")]


def _where(field: str) -> str:
    block, _, part = field.partition(".")
    if not part:
        return f"skeleton.{field}"
    return f"skeleton.{block}.{part}" if part == "strategy" else f"skeleton.{block}.personalization.{part}"


def test_every_skeleton_string_is_held_to_the_whitelist_and_span_syntax() -> None:
    for field in SKELETON_FIELDS:
        for bad, says in (("uses %ssn% here", "%ssn%"), ("an &&open span", "unclosed"), ("50 % off", "stray '%'")):
            out = TurnOutput.model_validate({"reply": "ok", "skeleton": _skeleton(**{field: bad})})
            [problem] = turn_problems(out, ALLOWED)
            assert problem.startswith(_where(field)) and says in problem, (field, problem)


def test_every_skeleton_string_is_held_to_the_spam_phrases() -> None:
    for field in SKELETON_FIELDS:
        out = TurnOutput.model_validate({"reply": "ok", "skeleton": _skeleton(**{field: "Act now, it is guaranteed"})})
        [problem] = turn_problems(out, ALLOWED)
        assert problem.startswith(_where(field)) and "'act now', 'guaranteed'" in problem


def test_the_reply_is_held_to_the_whitelist_but_may_quote_spam_phrases() -> None:
    [problem] = turn_problems(TurnOutput(reply="I used %ssn% as you asked"), ALLOWED)
    assert problem.startswith("reply uses %ssn%")
    assert turn_problems(TurnOutput(reply="I removed \u201cact now\u201d and \u201cguaranteed\u201d."), ALLOWED) == []
    assert "unclosed" in turn_problems(TurnOutput(reply="added &&a span"), ALLOWED)[0]


def test_hidden_characters_do_not_smuggle_spam_or_variables_past_the_rules() -> None:
    for body in ("Hi, act\u200b now", "Hi, ACT\u00a0NOW", "Hi, \uff41\uff43\uff54 now", "Hi, act\u00ad \u2060now",
                 "Hi, act\n   now", "risk\u2011free trial"):
        assert problems(body=body), body
    [problem] = problems(body="Hi %ss\u200bn%")
    assert "%ssn%" in problem and "not allowed" in problem
    assert "%ssn%" in problems(subject="Idea \uff05ssn\uff05")[0]
    assert problems(body="Make an impact now, exactly now.") == []  # whole words only: "act now" is not in "impact now"


def test_examples_are_normalised_before_the_spam_and_placeholder_checks() -> None:
    assert example_problems(ExampleOutput(subject="Idea for Acme", body="Hi Sara, act\u200b now."))
    assert example_problems(ExampleOutput(subject="Idea for Acme", body="Hi \uff05first_name\uff05"))
