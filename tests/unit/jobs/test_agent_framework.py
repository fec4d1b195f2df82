"""AgentLLM with scripted FunctionModels: retries on bad output, clean failure, streaming, limits."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai.exceptions import ModelHTTPError

from core.errors import JobError, ModelOutputRejected
from core.events import RecordingReporter, ReplyDeltaEvent, RetryEvent
from core.payloads import SequenceContext
from jobs.agent.prompts import read_context
from jobs.llm import ExampleContext
from tests.support.scripted import LEADS, feedback, prompt_of, scripted_llm, skeleton, turn_context

GOOD = {"reply": "Here is a draft.", "draft_subject": "Idea for %company%", "draft_body": "Hi %first_name%,\n\nShort."}
BAD = {**GOOD, "draft_body": "Hi %first_name%, your SSN is %customer_ssn%."}


async def test_a_whitelist_violation_is_sent_back_and_the_compliant_retry_is_accepted() -> None:
    seen: list[list[str]] = []

    def answer(messages: Any) -> dict[str, Any]:
        seen.append(feedback(messages))
        return BAD if not feedback(messages) else GOOD

    reporter = RecordingReporter()
    result = await scripted_llm(answer).chat_turn(turn_context(), reporter)

    assert (result.draft_subject, result.draft_body) == (GOOD["draft_subject"], GOOD["draft_body"])
    assert result.retries == 1
    told = seen[-1][-1]
    assert "%customer_ssn%" in told and "%first_name%" in told  # names the offender and the allowed list
    retries = [e for e in reporter.events if isinstance(e, RetryEvent)]
    assert [e.attempt for e in retries] == [1] and "%customer_ssn%" in retries[0].reason
    assert result.usage.requests == 2


async def test_a_model_that_never_complies_fails_with_model_output_rejected() -> None:
    reporter = RecordingReporter()
    with pytest.raises(ModelOutputRejected) as caught:
        await scripted_llm(lambda messages: BAD).chat_turn(turn_context(), reporter)
    assert caught.value.code == "model_output_rejected"
    assert "rejected 3 times" in caught.value.message and "%customer_ssn%" in caught.value.message
    assert [e.attempt for e in reporter.events if isinstance(e, RetryEvent)] == [1, 2]
    assert caught.value.usage.requests == 3


async def test_reply_deltas_stream_in_order_and_rebuild_the_reply() -> None:
    reply = "Thanks! Three quick questions before I draft: who reads it, what you sell, what they should do next."
    reporter = RecordingReporter()
    result = await scripted_llm(lambda messages: {"reply": reply}, chunk=5).chat_turn(turn_context(), reporter)
    deltas = [e.text for e in reporter.events if isinstance(e, ReplyDeltaEvent)]
    assert len(deltas) > 10
    assert "".join(deltas) == reply == result.reply
    assert result.skeleton is None and result.draft_body is None


async def test_after_a_retry_the_deltas_restart_the_reply() -> None:
    def answer(messages: Any) -> dict[str, Any]:
        return {**BAD, "reply": "First try."} if not feedback(messages) else {**GOOD, "reply": "Second try."}

    reporter = RecordingReporter()
    await scripted_llm(answer).chat_turn(turn_context(), reporter)
    kinds = [type(e).__name__ for e in reporter.events]
    split = kinds.index("RetryEvent")
    before = "".join(e.text for e in reporter.events[:split] if isinstance(e, ReplyDeltaEvent))
    after = "".join(e.text for e in reporter.events[split:] if isinstance(e, ReplyDeltaEvent))
    assert (before, after) == ("First try.", "Second try.")


async def test_the_per_turn_token_limit_ends_a_runaway_turn() -> None:
    llm = scripted_llm(lambda messages: {**GOOD, "reply": "word " * 400}, token_limit=300)
    with pytest.raises(JobError) as caught:
        await llm.chat_turn(turn_context(), RecordingReporter())
    assert caught.value.code == "usage_limit" and "300 tokens" in caught.value.message


async def test_provider_http_errors_become_model_error_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-very-secret-0123456789")

    def answer(messages: Any) -> dict[str, Any]:
        raise ModelHTTPError(401, "gpt-4o-mini", body={"error": "bad key sk-live-very-secret-0123456789"})

    with pytest.raises(JobError) as caught:
        await scripted_llm(answer).chat_turn(turn_context(), RecordingReporter())
    assert caught.value.code == "model_error" and "HTTP 401" in caught.value.message
    assert "secret" not in caught.value.message


async def test_the_model_sees_the_whole_context_for_a_follow_up() -> None:
    prompts: list[str] = []

    def answer(messages: Any) -> dict[str, Any]:
        prompts.append(prompt_of(messages))
        return GOOD

    sequence = SequenceContext(position=1, total_nodes=3,
                               prior_nodes=[{"type": "email", "subject": "Ramp time at %company%", "body": "Hi"}])
    ctx = turn_context("Now the follow-up", skeleton=skeleton(), draft=("Old %company%", "Old body"),
                       available=["first_name", "company"], sequence=sequence)
    await scripted_llm(answer).chat_turn(ctx, RecordingReporter())
    context = read_context(prompts[0])
    assert context["allowed_variables"] == ["company", "first_name"]
    assert context["sequence"]["prior_nodes"][0]["subject"] == "Ramp time at %company%"
    assert context["current_skeleton"] == skeleton()
    assert context["current_draft"] == {"subject": "Old %company%", "body": "Old body"}
    assert [lead["first_name"] for lead in context["sample_leads"]] == ["Sara", "Omar", "Mia"]
    assert prompts[0].endswith("Now the follow-up")


async def test_an_example_with_leftover_placeholders_is_sent_back() -> None:
    def answer(messages: Any) -> dict[str, Any]:
        if not feedback(messages):
            return {"subject": "Idea for %company%", "body": "Hi Sara"}
        return {"subject": "Idea for Acme", "body": "Hi Sara"}

    ctx = ExampleContext(lead=LEADS[0], skeleton=skeleton(), draft_subject="Idea for %company%",
                         draft_body="Hi %first_name%", allowed_vars=["company", "first_name"], sequence_context=None)
    reporter = RecordingReporter()
    result = await scripted_llm(answer).write_example(ctx, reporter)
    assert (result.subject, result.body) == ("Idea for Acme", "Hi Sara")
    assert any(isinstance(e, RetryEvent) and "%company%" in e.reason for e in reporter.events)


async def test_output_that_never_matches_the_schema_is_rejected_too() -> None:
    with pytest.raises(ModelOutputRejected) as caught:
        await scripted_llm(lambda messages: {"draft_body": "no reply field"}).chat_turn(turn_context(),
                                                                                      RecordingReporter())
    assert "required structure" in caught.value.message


@pytest.mark.parametrize(("user_chars", "off_loop"), [(1_000, False), (40_000, True)])
async def test_a_prompt_with_much_user_text_is_built_off_the_event_loop(monkeypatch: pytest.MonkeyPatch,
                                                                        user_chars: int, off_loop: bool) -> None:
    """Its standing requests are parsed from every user message (~5 µs a character, seconds for a transcript
    PATCHed full of long messages): on the event loop that once stalled every turn sharing it, and their lease
    renewals, until the reaper failed them."""
    import threading

    from jobs.agent import framework

    threads: list[int] = []
    build = framework.turn_prompt

    def recording(ctx: Any) -> str:
        threads.append(threading.get_ident())
        return build(ctx)

    monkeypatch.setattr(framework, "turn_prompt", recording)
    transcript = [{"role": "user", "content": "x " * (user_chars // 20)}, {"role": "assistant", "content": "ok"}] * 10
    await scripted_llm(lambda messages: GOOD).chat_turn(turn_context(transcript=transcript), RecordingReporter())
    assert len(threads) == 1 and (threads[0] != threading.get_ident()) == off_loop
