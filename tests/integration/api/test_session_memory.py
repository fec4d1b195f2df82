"""The session remembers its whitelist (``availableVarNames``) and its ``sequenceContext``: a turn that
omits one gets the last one the session was given; only a session never given a whitelist falls back
to the standard lead fields, and an explicit ``[]`` means no variables at all. The row shows both
(``available_var_names``, ``sequence_context``), written when the run starts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.payloads import SequenceContext
from jobs.agent import AgentLLM
from jobs.agent.offline import offline_model
from jobs.agent.rules import VAR_RE
from jobs.llm import STANDARD_LEAD_VARS, ExampleContext, TurnContext
from tests.support.english_checks import english_problems
from tests.support.live import SESSIONS, LiveClient
from tests.support.scripted import LEAD_JSON, generate_examples, run_row, turn

BRIEF = ("We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half, to enterprise VPs of "
         "Sales. Goal: book a 15-minute demo.")
PRIOR = [{"subject": "Ramp time at %company%", "body": "Hi %first_name%, a note about ramp time."}]


class Recording:
    """The built-in model, keeping the context each call was given (what the job decided was in effect)."""

    def __init__(self) -> None:
        self.inner = AgentLLM(offline_model(), name="offline", token_limit=200_000)
        self.name = self.inner.name
        self.turns: list[TurnContext] = []
        self.examples: list[ExampleContext] = []

    async def chat_turn(self, ctx: TurnContext, reporter: Any) -> Any:
        self.turns.append(ctx)
        return await self.inner.chat_turn(ctx, reporter)

    async def write_example(self, ctx: ExampleContext, reporter: Any) -> Any:
        self.examples.append(ctx)
        return await self.inner.write_example(ctx, reporter)


def variables(session: dict[str, Any]) -> set[str]:
    """Every %variable% in what the model wrote last: draft, skeleton and the latest reply."""
    text = f"{session['draft_subject']} {session['draft_body']} {session['skeleton']} {session['messages'][-1]}"
    return set(VAR_RE.findall(text))


def test_the_readme_walk_through_uses_only_the_variables_turn_one_gave(live_server_factory: Any) -> None:
    """The README's walk-through, as written, on a server with the default configuration (SQLite, the
    embedded worker process, the offline model): turn 1 gives the whitelist, turn 2 omits it."""
    server = live_server_factory()
    client = LiveClient(server.url, server.create_key())
    sid = client.create_session()

    client.turn(sid, "Write an intro email for VPs of Sales", availableVarNames=["first_name", "company"])
    one = client.wait_idle(sid)
    assert one["available_var_names"] == ["first_name", "company"] and one["last_run"]["status"] == "succeeded"

    client.turn(sid, "Audience: VPs of Sales at SaaS companies. Offer: 15 minutes to ROI. CTA: a short call.")
    two = client.wait_idle(sid)
    assert two["last_run"]["status"] == "succeeded", two["last_run"]
    assert two["draft_body"] and two["skeleton"] is not None
    assert "%position%" not in two["draft_subject"] + two["draft_body"], two["draft_body"]
    assert variables(two) <= {"first_name", "company"}, two["draft_body"]
    assert two["available_var_names"] == ["first_name", "company"]

    client.start(sid, "generate-examples", {"leads": [{"first_name": "Ada", "last_name": "Lovelace",
                                                       "company": "Engines"}], "isFirstBatch": True})
    [example] = client.wait_idle(sid)["generated_examples"]
    assert example["status"] == "ok", example
    assert english_problems(example["body"]) == [] and not re.search(r"%|&&", example["subject"] + example["body"])


async def test_a_turn_that_omits_the_whitelist_and_sequence_gets_the_last_ones_given(api_factory: Any) -> None:
    model = Recording()
    api = await api_factory(llm=model)
    session = await api.create_session()
    assert (session["available_var_names"], session["sequence_context"]) == (None, None)
    sid = session["id"]
    sequence = {"position": 1, "total_nodes": 3, "prior_nodes": PRIOR}

    _, one = await turn(api, sid, BRIEF, availableVarNames=["first_name", "company"], sequenceContext=sequence)
    assert one["available_var_names"] == ["first_name", "company"]
    assert one["sequence_context"] == sequence
    assert variables(one) <= {"first_name", "company"} and "Ramp time at %company%" in one["messages"][-1]["content"]

    for message in ("Make it shorter", "Make it more casual", "Make the subject a question"):
        run_id, later = await turn(api, sid, message)  # nothing but the message from here on
        assert (await run_row(api, run_id))["status"] == "COMPLETED_SUCCESSFULLY", later["last_run"]
        assert variables(later) <= {"first_name", "company"}, later["draft_body"]
        assert later["available_var_names"] == ["first_name", "company"] and later["sequence_context"] == sequence
        run = await run_row(api, run_id)
        assert "availableVarNames" not in run["payload"]["input"]  # the memory, not the request, supplied them

    remembered = SequenceContext(position=1, total_nodes=3, prior_nodes=PRIOR)
    assert [(c.allowed_vars, c.sequence_context) for c in model.turns] == [(["company", "first_name"], remembered)] * 4

    # a new whitelist replaces the remembered one; null is the same as leaving it out
    _, narrowed = await turn(api, sid, "Add a P.S. about our free pilot", availableVarNames=["company"])
    assert narrowed["available_var_names"] == ["company"] and variables(narrowed) <= {"company"}
    _, kept = await turn(api, sid, "Make it warmer", availableVarNames=None, sequenceContext=None)
    assert kept["available_var_names"] == ["company"] and kept["sequence_context"] == sequence
    assert variables(kept) <= {"company"}, kept["draft_body"]


async def test_an_explicit_empty_whitelist_means_no_variables_at_all(api: Any) -> None:
    sid = (await api.create_session())["id"]
    _, one = await turn(api, sid, BRIEF, availableVarNames=[])
    assert one["available_var_names"] == []
    assert one["draft_body"] and variables(one) == set(), one["draft_body"]
    _, two = await turn(api, sid, "Make it more formal")
    assert two["available_var_names"] == [] and variables(two) == set(), two["draft_body"]


async def test_a_session_never_given_a_whitelist_uses_the_standard_lead_fields(api: Any) -> None:
    sid = (await api.create_session())["id"]
    _, one = await turn(api, sid, BRIEF)
    assert one["available_var_names"] is None and one["sequence_context"] is None
    assert variables(one) and variables(one) <= set(STANDARD_LEAD_VARS)
    assert "%position%" in one["draft_body"]  # a standard field the writer uses when it may


async def test_examples_use_the_remembered_whitelist_and_sequence_and_may_set_the_sequence(api_factory: Any) -> None:
    model = Recording()
    api = await api_factory(llm=model)
    sid = (await api.create_session())["id"]
    sequence = {"position": 1, "total_nodes": 2, "prior_nodes": PRIOR}
    await turn(api, sid, BRIEF, availableVarNames=["first_name", "company"], sequenceContext=sequence)
    run_id, after = await generate_examples(api, sid, LEAD_JSON[:1])
    assert after["generated_examples"][0]["status"] == "ok" and after["sequence_context"] == sequence
    assert "sequenceContext" not in (await run_row(api, run_id))["payload"]["input"]
    [example] = model.examples
    assert example.allowed_vars == ["company", "first_name"]
    assert example.sequence_context == SequenceContext(position=1, total_nodes=2, prior_nodes=PRIOR)
    other = {"position": 2, "total_nodes": 3}
    response = await api.client.post(f"{SESSIONS}/{sid}/generate-examples", headers=api.headers,
                                     json={"leads": LEAD_JSON[:1], "sequenceContext": other})
    assert response.status_code == 202, response.text
    assert (await api.wait_idle(sid))["sequence_context"] == other
    assert model.examples[-1].sequence_context == SequenceContext(position=2, total_nodes=3)
    _, last = await turn(api, sid, "Make it shorter")
    assert last["sequence_context"] == other and last["available_var_names"] == ["first_name", "company"]
    assert model.turns[-1].sequence_context == SequenceContext(position=2, total_nodes=3)


async def test_a_refused_turn_leaves_the_memory_as_it_was(api: Any) -> None:
    sid = (await api.create_session())["id"]
    await turn(api, sid, BRIEF, availableVarNames=["first_name"])
    busy = await api.client.patch(f"{SESSIONS}/{sid}", json={"task_status": "chat_processing"}, headers=api.headers)
    assert busy.status_code == 200
    refused = await api.turn(sid, "Make it shorter", availableVarNames=["position"], sequenceContext={"position": 4})
    assert refused.status_code == 409, refused.text
    row = await api.get_session(sid)
    assert row["available_var_names"] == ["first_name"] and row["sequence_context"] is None


@pytest.mark.parametrize("names", [["first_name"] * 100, [f"v{i}" for i in range(100)]])
async def test_the_largest_whitelist_is_remembered_whole(api: Any, names: list[str]) -> None:
    sid = (await api.create_session())["id"]
    _, row = await turn(api, sid, BRIEF, availableVarNames=names)
    assert row["available_var_names"] == list(dict.fromkeys(names))
    too_many = await api.turn(sid, "Make it shorter", availableVarNames=[f"v{i}" for i in range(101)])
    assert too_many.status_code == 400 and too_many.json()["code"] == "validation_error"
    assert (await api.get_session(sid))["available_var_names"] == list(dict.fromkeys(names))
