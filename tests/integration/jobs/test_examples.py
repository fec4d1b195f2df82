"""generate-email-examples through the API: one validated example per lead, failures isolated."""

from __future__ import annotations

import asyncio
from typing import Any

from jobs.agent.prompts import read_context
from tests.support.scripted import LEAD_JSON, generate_examples, prompt_of, run_row, scripted_llm, skeleton, turn


def examples_model() -> Any:
    """Turns propose a skeleton; an example for Omar never passes the validators."""

    def answer(messages: Any) -> dict[str, Any]:
        context = read_context(prompt_of(messages))
        if "lead" not in context:
            return {"reply": "ok", "skeleton": skeleton(), "draft_subject": "Idea for %company%",
                    "draft_body": "Hi %first_name%,\n\n&&one line for %position%&&"}
        lead = context["lead"]
        if lead["first_name"] == "Omar":
            return {"subject": "Idea for %company%", "body": "Hi %first_name%"}
        return {"subject": f"Idea for {lead['company']}", "body": f"Hi {lead['first_name']},\n\nA line."}

    return answer


async def test_each_lead_gets_an_example_and_a_failing_lead_does_not_sink_the_others(api_factory: Any) -> None:
    api = await api_factory(llm=scripted_llm(examples_model()))
    session = await api.create_session()
    await turn(api, session["id"], "Draft it")
    run_id, after = await generate_examples(api, session["id"], LEAD_JSON)
    by_name = {e["first_name"]: e for e in after["generated_examples"]}
    assert by_name["Sara"]["status"] == "ok" and by_name["Sara"]["subject"] == "Idea for Acme"
    assert by_name["Sara"]["lead_id"].startswith("lead_") and by_name["Sara"]["last_name"] == "Lee"
    assert by_name["Omar"]["status"] == "failed"
    assert by_name["Omar"]["error"]["code"] == "model_output_rejected"
    assert by_name["Mia"]["status"] == "ok"
    run = await run_row(api, run_id)
    assert run["status"] == "COMPLETED_SUCCESSFULLY" and run["output"]["failed"] == 1
    assert after["task_status"] is None

    _, appended = await generate_examples(api, session["id"], LEAD_JSON[:1], first=False)
    assert [e["first_name"] for e in appended["generated_examples"]] == ["Sara", "Omar", "Mia", "Sara"]
    _, seeded = await generate_examples(api, session["id"], LEAD_JSON[2:], first=True)
    assert [e["first_name"] for e in seeded["generated_examples"]] == ["Mia"]


async def test_leads_run_with_bounded_concurrency(api_factory: Any) -> None:
    from jobs.llm import ExampleResult

    class Counting:
        """Wraps the agent to observe how many leads are in flight at once."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.name, self.now, self.peak = inner, "counting", 0, 0

        async def chat_turn(self, ctx: Any, reporter: Any) -> Any:
            return await self.inner.chat_turn(ctx, reporter)

        async def write_example(self, ctx: Any, reporter: Any) -> ExampleResult:
            self.now += 1
            self.peak = max(self.peak, self.now)
            await asyncio.sleep(0.02)
            try:
                return await self.inner.write_example(ctx, reporter)
            finally:
                self.now -= 1

    model = Counting(scripted_llm(examples_model()))
    api = await api_factory(llm=model, example_concurrency=2)
    session = await api.create_session()
    await turn(api, session["id"], "Draft it")
    leads = [{**LEAD_JSON[0], "first_name": f"Sara{i}"} for i in range(6)]
    _, after = await generate_examples(api, session["id"], leads)
    assert len(after["generated_examples"]) == 6 and model.peak == 2
