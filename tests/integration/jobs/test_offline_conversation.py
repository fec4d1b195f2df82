"""The newcomer's path with the default configuration (LLM_MODEL=offline), through the API."""

from __future__ import annotations

from typing import Any

from jobs.agent.rules import VAR_RE
from tests.support.scripted import LEAD_JSON, generate_examples, run_events, run_row, turn

VARS = {"availableVarNames": ["first_name", "company", "position"]}


async def test_a_four_turn_chat_converges_and_examples_follow(api_factory: Any) -> None:
    api = await api_factory()  # no injected model: build_llm(settings) with the default "offline"
    session = await api.create_session()
    sid = session["id"]

    run1, one = await turn(api, sid, "Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI", **VARS)
    assert one["skeleton"] is None and one["draft_body"] is None
    assert "?" in one["messages"][-1]["content"]

    run2, two = await turn(api, sid, "We sell Rampwise, an onboarding platform that cuts new-rep ramp time in "
                                     "half. Goal: book a 15-minute demo.", **VARS)
    assert two["framework_version"] == 1 and two["skeleton"]["audience"] == "enterprise VPs of Sales"
    assert set(VAR_RE.findall(two["draft_subject"] + two["draft_body"])) <= set(VARS["availableVarNames"])

    run3, three = await turn(api, sid, "Make it shorter", **VARS)
    assert three["framework_version"] == 1 and len(three["draft_body"]) < len(two["draft_body"])
    assert three["draft_history"] == [{"subject": two["draft_subject"], "body": two["draft_body"]}]

    _, with_examples = await generate_examples(api, sid, LEAD_JSON)
    assert [e["status"] for e in with_examples["generated_examples"]] == ["ok", "ok", "ok"]
    for example, lead in zip(with_examples["generated_examples"], LEAD_JSON):
        assert f"Hi {lead['first_name']}," in example["body"] and lead["company"] in example["subject"]
        assert "&&" not in example["body"] and not VAR_RE.search(example["body"])

    run4, four = await turn(api, sid, "Mention our SOC 2 Type II report", **VARS)
    assert four["framework_version"] == 2 and four["skeleton_history"] == [three["skeleton"]]
    assert "SOC 2 Type II report" in four["draft_body"] and len(four["draft_history"]) == 2
    assert four["generated_examples"] is None

    total = 0
    for run_id in (run1, run2, run3, run4):
        run = await run_row(api, run_id)
        assert run["status"] == "COMPLETED_SUCCESSFULLY"
        assert run["usage"]["input_tokens"] > 0 and run["usage"]["output_tokens"] > 0
        assert run["usage"]["requests"] == 1 and run["usage"]["cost_usd"] == 0.0
        assert any(e["type"] == "usage" for e in await run_events(api, run_id))
        total += run["usage"]["input_tokens"]
    assert four["usage"]["requests"] == 4 + 3  # four turns plus one request per example
    assert four["usage"]["input_tokens"] > total
