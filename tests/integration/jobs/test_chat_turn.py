"""framework-chat-turn through the API on both databases, with scripted models at the provider edge."""

from __future__ import annotations

from typing import Any

from tests.support.scripted import LEAD_JSON, feedback, generate_examples, run_events, run_row, scripted_llm, skeleton, turn

GOOD = {"reply": "Here is a draft.", "draft_subject": "Idea for %company%", "draft_body": "Hi %first_name%,\n\nShort."}
BAD = {**GOOD, "draft_body": "Hi %first_name%, your SSN is %customer_ssn%."}


async def test_a_whitelist_violation_is_retried_and_the_compliant_draft_saved(api_factory: Any) -> None:
    api = await api_factory(llm=scripted_llm(lambda m: BAD if not feedback(m) else GOOD))
    session = await api.create_session()
    run_id, after = await turn(api, session["id"], "Write it", availableVarNames=["first_name", "company"])
    assert (after["draft_subject"], after["draft_body"]) == (GOOD["draft_subject"], GOOD["draft_body"])
    run = await run_row(api, run_id)
    assert run["status"] == "COMPLETED_SUCCESSFULLY" and run["output"]["validation_retries"] == 1
    retry = [e for e in await run_events(api, run_id) if e["type"] == "retry"]
    assert len(retry) == 1 and "%customer_ssn%" in retry[0]["reason"]


async def test_a_model_that_never_complies_fails_the_turn_cleanly(api_factory: Any) -> None:
    api = await api_factory(llm=scripted_llm(lambda m: BAD))
    session = await api.create_session()
    run_id, after = await turn(api, session["id"], "Write it")
    assert after["task_status"] is None  # claim released
    assert after["messages"] == [{"role": "user", "content": "Write it"}]  # transcript intact, nothing invented
    assert after["draft_body"] is None and after["skeleton"] is None
    assert after["last_run"]["status"] == "failed"
    assert after["last_run"]["error"]["code"] == "model_output_rejected"
    assert "%customer_ssn%" in after["last_run"]["error"]["message"]
    run = await run_row(api, run_id)
    assert run["status"] == "COMPLETED_WITH_ERRORS" and run["error"]["name"] == "model_output_rejected"
    assert run["usage"]["requests"] == 3 and after["usage"]["requests"] == 3  # spend is still counted
    # the session is usable again right away
    response = await api.turn(session["id"], "Try again")
    assert response.status_code == 202
    await api.wait_idle(session["id"])


async def test_skeleton_revisions_move_the_version_and_histories_and_clear_examples(api_factory: Any) -> None:
    script = {"Turn one": (skeleton("Rampwise"), "Rampwise for %company%", "Hi %first_name%,\n\nv1"),
              "Turn two": (skeleton("Rampwise Pro"), "Rampwise Pro for %company%", "Hi %first_name%,\n\nv2"),
              "Turn three": (skeleton("Rampwise Pro"), "Rampwise Pro for %company%", "Hi %first_name%,\n\nv3")}

    def answer(messages: Any) -> dict[str, Any]:
        from tests.support.scripted import prompt_of

        prompt = prompt_of(messages)
        if "draft_template" in prompt:  # an example for one lead
            return {"subject": "Rampwise for Acme", "body": "Hi Sara,\n\nRendered."}
        sk, subject, body = script[prompt.rsplit("\n", 1)[-1]]
        return {"reply": "ok", "skeleton": sk, "draft_subject": subject, "draft_body": body}

    api = await api_factory(llm=scripted_llm(answer))
    session = await api.create_session()
    _, one = await turn(api, session["id"], "Turn one")
    assert one["framework_version"] == 1 and one["skeleton"] == skeleton("Rampwise")
    assert one["skeleton_history"] in (None, []) and one["draft_history"] in (None, [])
    _, with_examples = await generate_examples(api, session["id"], LEAD_JSON)
    assert len(with_examples["generated_examples"]) == 3

    _, two = await turn(api, session["id"], "Turn two")
    assert two["framework_version"] == 2 and two["skeleton"] == skeleton("Rampwise Pro")
    assert two["skeleton_history"] == [skeleton("Rampwise")]
    assert two["draft_history"] == [{"subject": "Rampwise for %company%", "body": "Hi %first_name%,\n\nv1"}]
    assert two["generated_examples"] is None  # written from the old skeleton

    _, three = await turn(api, session["id"], "Turn three")  # same skeleton, new draft
    assert three["framework_version"] == 2 and len(three["skeleton_history"]) == 1
    assert [d["body"] for d in three["draft_history"]] == ["Hi %first_name%,\n\nv1", "Hi %first_name%,\n\nv2"]


async def test_reply_deltas_reach_the_run_stream_in_order(api_factory: Any) -> None:
    reply = "Who reads this email, what do you sell, and what should they do next? " * 3
    api = await api_factory(llm=scripted_llm(lambda m: {"reply": reply}, chunk=4))
    session = await api.create_session()
    run_id, after = await turn(api, session["id"], "Hello")
    events = await run_events(api, run_id)
    kinds = [e["type"] for e in events]
    deltas = "".join(e["text"] for e in events if e["type"] == "reply_delta")
    assert deltas == reply and after["messages"][-1] == {"role": "assistant", "content": reply}
    assert kinds.index("reply") > max(i for i, k in enumerate(kinds) if k == "reply_delta")
    assert kinds[-1] == "done" and "usage" in kinds


async def test_a_follow_up_turn_gets_the_sequence_and_acknowledges_prior_nodes(api_factory: Any) -> None:
    from jobs.agent.prompts import read_context
    from tests.support.scripted import prompt_of

    def answer(messages: Any) -> dict[str, Any]:
        sequence = read_context(prompt_of(messages))["sequence"] or {}
        prior = sequence.get("prior_nodes") or []
        if sequence.get("position") and prior:
            return {"reply": f"Email {sequence['position'] + 1} builds on \"{prior[-1]['subject']}\".",
                    "draft_subject": "Re: " + prior[-1]["subject"], "draft_body": "Hi %first_name%,\n\nFollowing up."}
        return {"reply": "First email."}

    api = await api_factory(llm=scripted_llm(answer))
    session = await api.create_session()
    sequence = {"position": 1, "total_nodes": 3,
                "prior_nodes": [{"type": "email", "subject": "Ramp time at %company%", "body": "Hi"}]}
    _, after = await turn(api, session["id"], "Write the follow-up", sequenceContext=sequence)
    assert after["messages"][-1]["content"] == 'Email 2 builds on "Ramp time at %company%".'
    assert after["draft_subject"] == "Re: Ramp time at %company%"
