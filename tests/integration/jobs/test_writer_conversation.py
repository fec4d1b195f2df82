"""What the embedded default model (LLM_MODEL=offline) does with the feedback users give, as a
specification: each row is one feedback message and the property the next draft must have, run
through the real API (a session, a first draft from a full brief, then the feedback turn). Then a
ten-turn conversation in which requests accumulate, each kind of feedback shows in the draft and
stays there in later turns, replies describe the actual change, and examples read as English.

These tests are about the writer, not the database, so they run on SQLite only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobs.agent.english import count_words
from jobs.agent.rules import VAR_RE
from tests.support.english_checks import english_problems
from tests.support.scripted import LEAD_JSON, generate_examples, run_row, turn

VARS = {"availableVarNames": ["first_name", "company", "position"]}
BRIEF = ("Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI. We sell Rampwise, an onboarding "
         "platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo.")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


Session = dict[str, Any]


def body(s: Session) -> str:
    return str(s["draft_body"])


def subject(s: Session) -> str:
    return str(s["draft_subject"])


def words(s: Session) -> int:
    return count_words(body(s))


def content_paragraphs(s: Session) -> list[str]:
    """Paragraphs between the greeting and the sign-off (the P.S. excluded)."""
    paragraphs = [p for p in body(s).split("\n\n") if not p.startswith("P.S.")]
    return paragraphs[1:-1]


def cta(s: Session) -> str:
    return content_paragraphs(s)[-1].rsplit(". ", 1)[-1] if content_paragraphs(s) else ""


def signs_off(s: Session) -> str:
    return [p for p in body(s).split("\n\n") if not p.startswith("P.S.")][-1]


Check = Callable[[Session, Session], bool]


@dataclass(frozen=True)
class Row:
    message: str
    then: str  # the property, in words
    check: Check


ROWS = [
    # tone
    Row("Make it more casual", "a casual greeting and ask", lambda a, b: body(b).startswith("Hey %first_name%,")
        and "Are you up for a 15-minute demo next week?" in body(b)),
    Row("Can you loosen it up a bit?", "a casual greeting", lambda a, b: body(b).startswith("Hey ")),
    Row("It's too stiff", "a casual greeting", lambda a, b: body(b).startswith("Hey ")),
    Row("More formal please", "a formal greeting, ask and sign-off", lambda a, b: body(b).startswith("Dear %first_name%,")
        and "Would you be available for" in body(b) and signs_off(b) == "Kind regards"),
    Row("Make it sound more professional", "a formal greeting", lambda a, b: body(b).startswith("Dear ")),
    Row("This is too casual", "a formal greeting", lambda a, b: body(b).startswith("Dear ")),
    Row("Warmer", "a warm opening line", lambda a, b: "I hope your week is off to a good start." in body(b)),
    Row("Make it friendlier", "a warm opening line", lambda a, b: "I hope" in body(b) and signs_off(b) == "Warm regards"),
    Row("It feels a bit cold", "a warm opening line", lambda a, b: "I hope" in body(b)),
    Row("More direct", "a direct ask", lambda a, b: "Can we book a 15-minute demo for Tuesday or Wednesday?" in body(b)),
    Row("Get to the point", "a direct ask", lambda a, b: "Can we book" in body(b)),
    Row("Cut the fluff", "a direct ask", lambda a, b: "Can we book" in body(b)),
    # length
    Row("Make it shorter", "fewer words", lambda a, b: words(b) < words(a)),
    Row("Too long, trim it down", "fewer words", lambda a, b: words(b) < words(a)),
    Row("Much shorter please", "fewer words and the short offer line",
        lambda a, b: words(b) < words(a) and "Rampwise cuts new-rep ramp time in half." in body(b)),
    Row("Keep it under 50 words", "under 50 words", lambda a, b: words(b) < 50),
    Row("No more than 45 words", "at most 45 words", lambda a, b: words(b) <= 45),
    Row("45 words max", "at most 45 words", lambda a, b: words(b) <= 45),
    Row("One paragraph", "one paragraph between greeting and sign-off", lambda a, b: len(content_paragraphs(b)) == 1),
    Row("Put it all in a single paragraph", "one paragraph", lambda a, b: len(content_paragraphs(b)) == 1),
    Row("No paragraph breaks please", "one paragraph", lambda a, b: len(content_paragraphs(b)) == 1),
    # sign-off and signature
    Row("Sign off with 'Cheers, Tom'", "the sign-off and name", lambda a, b: body(b).endswith("Cheers,\nTom")),
    Row("sign it Tom", "the name under the sign-off", lambda a, b: body(b).endswith("Best regards,\nTom")),
    Row("Close with \u201cTalk soon\u201d", "the sign-off", lambda a, b: body(b).endswith("\n\nTalk soon")),
    Row("Change the sign-off to Warmly, Priya", "the sign-off and name", lambda a, b: body(b).endswith("Warmly,\nPriya")),
    Row("My name is Priya Shah", "the name", lambda a, b: body(b).endswith("\nPriya Shah")),
    # opener
    Row("Open with peak-season hiring", "the opener about it",
        lambda a, b: content_paragraphs(b)[0].startswith("&&One sentence on why peak-season hiring matters")),
    Row("The hook should be about Q4 quotas", "the opener about it", lambda a, b: "why Q4 quotas matter to" in body(b)),
    Row("Lead with their recent funding round", "the opener about it, to the reader",
        lambda a, b: "your recent funding round" in content_paragraphs(b)[0]),
    Row("Start with a question about their hiring plans", "a question first",
        lambda a, b: content_paragraphs(b)[0] == "How are you approaching your hiring plans right now?"),
    Row("First line: 'Saw your post about ramp time.'", "that exact line first",
        lambda a, b: content_paragraphs(b)[0] == "Saw your post about ramp time."),
    # subject
    Row("Make the subject a question", "a question", lambda a, b: subject(b).endswith("?")),
    Row("Turn the subject line into a question", "a question", lambda a, b: subject(b).endswith("?")),
    Row("Shorter subject please", "a shorter subject", lambda a, b: len(subject(b)) < len(subject(a))),
    Row("The subject is too long", "a shorter subject", lambda a, b: len(subject(b)) < len(subject(a))),
    Row("Put ramp time in the subject", "ramp time in it", lambda a, b: "ramp time" in subject(b).lower()),
    Row("Include their first name in the subject", "the first name in it", lambda a, b: "%first_name%" in subject(b)),
    Row("No variables in the subject", "no variables in it", lambda a, b: not VAR_RE.search(subject(b))),
    Row("Don't personalize the subject", "no variables in it", lambda a, b: not VAR_RE.search(subject(b))),
    Row("Subject: 'Ramp time, halved'", "exactly that subject", lambda a, b: subject(b) == "Ramp time, halved"),
    # proof points, case studies, P.S., sentences
    Row("Mention our SOC 2 Type II report", "the report in the body",
        lambda a, b: "I can share our SOC 2 Type II report if it helps." in body(b)),
    Row("Add our case study with DHL", "the case study in the body", lambda a, b: "case study with DHL" in body(b)),
    Row("Highlight that we integrate with Salesforce", "the fact as a sentence",
        lambda a, b: "We integrate with Salesforce." in body(b)),
    Row("Add a P.S. about our free pilot", "a P.S. about it",
        lambda a, b: body(b).endswith("P.S. If it helps, I can also tell you more about our free pilot.")),
    Row("P.S.: we're at SaaStr next week", "that P.S.", lambda a, b: body(b).endswith("P.S. We're at SaaStr next week.")),
    Row("Add the sentence 'Setup takes one afternoon.'", "that sentence", lambda a, b: "Setup takes one afternoon." in body(b)),
    Row("Remove the customer result", "no proof line", lambda a, b: "customer result" not in body(b)),
    Row("Take out the line about onboarding", "no sentence about onboarding", lambda a, b: "onboarding" not in body(b)),
    Row("Change 'next week' to 'this month'", "the words replaced", lambda a, b: "this month?" in body(b)),
    # call to action
    Row("Ask them to reply instead", "a reply ask",
        lambda a, b: "just reply to this email" in body(b) and "next week?" not in body(b)),
    Row("Change the CTA to a demo walkthrough", "a demo ask", lambda a, b: "demo" in cta(b)),
    Row("Ask for a 20-minute call instead", "the call ask",
        lambda a, b: "Would you be open to a 20-minute call next week?" in body(b)),
    Row("End with a link to my calendar https://cal.com/tom", "the link",
        lambda a, b: "pick a time that suits you here: https://cal.com/tom" in body(b)),
    Row("Offer an 8-minute demo", "the demo ask, with 'an'", lambda a, b: "an 8-minute demo" in body(b)),
    # audience and offer
    Row("Change the audience to CFOs at fintech startups", "the new audience in the skeleton",
        lambda a, b: b["skeleton"]["audience"] == "CFOs at fintech startups" and b["framework_version"] == 2),
    Row("Target HR directors instead", "the new audience", lambda a, b: b["skeleton"]["audience"] == "HR directors"),
    Row("We now sell Rampwise Coach, an AI tutor that cuts ramp time for new reps", "the new offer in the body",
        lambda a, b: "Rampwise Coach is an AI tutor that cuts ramp time for new reps." in body(b)),
    # compound
    Row("Shorter and more casual, sign it Tom", "all three", lambda a, b: words(b) < words(a)
        and body(b).startswith("Hey ") and body(b).endswith("Cheers,\nTom")),
    Row("Make it warmer, under 90 words, and open with peak-season hiring", "all three",
        lambda a, b: "I hope" in body(b) and words(b) < 90 and "peak-season hiring" in body(b)),
    Row("More formal; make the subject a question; add a P.S. about our pilot", "all three",
        lambda a, b: body(b).startswith("Dear ") and subject(b).endswith("?") and "P.S." in body(b)),
]
UNDERSTOOD_NOTHING = ["Make it pop", "Hmm, not sure about the vibe here", "Can you add some sparkle?"]


async def first_draft_then(api: Any, message: str) -> tuple[Session, Session, str]:
    session = await api.create_session()
    _, first = await turn(api, session["id"], BRIEF, **VARS)
    assert first["framework_version"] == 1 and first["draft_body"], first["messages"][-1]
    run_id, after = await turn(api, session["id"], message, **VARS)
    assert (await run_row(api, run_id))["status"] == "COMPLETED_SUCCESSFULLY"
    return first, after, after["messages"][-1]["content"]


@pytest.mark.parametrize("row", ROWS, ids=[r.message for r in ROWS])
async def test_feedback_shows_in_the_next_draft(api: Any, row: Row) -> None:
    before, after, reply = await first_draft_then(api, row.message)
    assert row.check(before, after), f"{row.message!r} should give {row.then}:\n{after['draft_subject']}\n{body(after)}"
    assert "Changed:" in reply, reply
    if subject(after) != subject(before):
        assert f"\u201c{subject(after)}\u201d" in reply  # the reply names the new subject
    greeting = body(after).split("\n", 1)[0]
    if greeting != body(before).split("\n", 1)[0]:
        assert f"greeting: \u201c{greeting}\u201d" in reply
    if words(after) != words(before):
        assert f"{words(before)} \u2192 {words(after)} words" in reply
    assert english_problems(body(after), template=True) == []


@pytest.mark.parametrize("message", UNDERSTOOD_NOTHING)
async def test_feedback_it_cannot_act_on_changes_nothing_and_says_what_it_can_do(api: Any, message: str) -> None:
    before, after, reply = await first_draft_then(api, message)
    assert (subject(after), body(after), after["framework_version"]) == (subject(before), body(before), 1)
    assert reply.startswith("Nothing changed in the skeleton or the draft.")
    assert "I did not understand" in reply and "the tone (casual, formal, warmer, more direct)" in reply and "the call to action" in reply


async def test_a_request_already_met_changes_nothing_and_says_so(api: Any) -> None:
    before, after, reply = await first_draft_then(api, "Keep it under 120 words")
    assert body(after) == body(before)
    assert reply.startswith("Nothing changed in the skeleton or the draft: it is already within 119 words")


async def test_ten_turns_accumulate_requests_and_replies_describe_each_change(api: Any) -> None:
    session = await api.create_session()
    sid = session["id"]

    async def say(message: str) -> tuple[Session, str]:
        run_id, after = await turn(api, sid, message, **VARS)
        assert (await run_row(api, run_id))["status"] == "COMPLETED_SUCCESSFULLY", after["last_run"]
        reply = after["messages"][-1]["content"]
        if after["draft_body"]:
            assert english_problems(body(after), template=True) == [], body(after)
        return after, reply

    # 1. a vague brief gets questions
    one, reply = await say("Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI")
    assert one["draft_body"] is None and "What do you sell" in reply

    # 2. the details give the first draft
    two, reply = await say("We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. "
                           "Goal: book a 15-minute demo.")
    assert two["framework_version"] == 1 and "Here is a first skeleton and draft" in reply
    assert body(two).startswith("Hi %first_name%,") and "Would you be open to a 15-minute demo next week?" in body(two)

    # 3. a compound request
    three, reply = await say("Shorter and more casual, sign it Tom")
    assert words(three) < words(two) and body(three).startswith("Hey %first_name%,")
    assert body(three).endswith("Cheers,\nTom")
    assert "greeting: \u201cHey %first_name%,\u201d" in reply and "sign-off: \u201cCheers, / Tom\u201d" in reply

    def still_casual_short_and_signed(s: Session) -> None:
        assert body(s).startswith("Hey %first_name%,") and body(s).endswith("Cheers,\nTom"), body(s)
        assert len(content_paragraphs(s)) == 2, body(s)  # the short layout: one paragraph and the ask

    # 4. a proof point: the plan changes, earlier requests stay
    four, reply = await say("Mention our SOC 2 Type II report")
    assert four["framework_version"] == 2 and "I can share our SOC 2 Type II report if it helps." in body(four)
    assert "proof plan: \u201cCite: SOC 2 Type II report\u201d" in reply
    assert "Still applied from earlier turns: casual tone; shorter; signed \u201cTom\u201d." in reply
    still_casual_short_and_signed(four)

    # 5. the subject
    five, reply = await say("Make the subject a question")
    assert subject(five) == "Is time-to-ROI a priority at %company%?"
    assert "subject: \u201cRampwise for %company%\u201d \u2192 \u201cIs time-to-ROI a priority at %company%?\u201d" in reply
    assert body(five) == body(four)
    still_casual_short_and_signed(five)

    # 6. the opener
    six, reply = await say("Open with peak-season hiring")
    assert content_paragraphs(six)[0].startswith("&&One sentence on why peak-season hiring matters")
    assert "opener plan: \u201cOpen with peak-season hiring" in reply
    assert subject(six) == subject(five) and "SOC 2 Type II report" in body(six)
    still_casual_short_and_signed(six)

    # 7. a word limit: the offer line gets shorter, nothing that was asked for goes
    seven, reply = await say("Keep it under 50 words")
    assert words(seven) < 50 <= words(six)
    assert "reworded \u201cRampwise is an onboarding platform that cuts new-rep ramp time in half.\u201d \u2192 " \
           "\u201cRampwise cuts new-rep ramp time in half.\u201d" in reply
    assert "peak-season hiring" in body(seven) and "SOC 2" in body(seven) and subject(seven).endswith("?")
    still_casual_short_and_signed(seven)

    # 8. the call to action
    eight, reply = await say("Ask them to reply instead")
    assert "If it's interesting, just hit reply and I'll send more." in body(eight)
    assert "call-to-action plan: \u201cAsk them to reply to the email\u201d" in reply
    assert words(eight) < 50 and "peak-season hiring" in body(eight) and "SOC 2" in body(eight)
    still_casual_short_and_signed(eight)

    # 9. something it does not understand changes nothing
    nine, reply = await say("Make it pop")
    assert (subject(nine), body(nine), nine["framework_version"]) == (subject(eight), body(eight),
                                                                      eight["framework_version"])
    assert reply.startswith("Nothing changed") and "I did not understand" in reply

    # 10. a change of mind on tone, plus a P.S.: the later tone replaces the earlier one, the rest stays
    ten, reply = await say("Actually, make it more formal and add a P.S. about our free pilot")
    assert body(ten).startswith("Dear %first_name%,") and "Kind regards,\nTom" in body(ten)
    assert "please reply to this email" in body(ten)
    assert body(ten).endswith("P.S. If it helps, I can also tell you more about our free pilot.")
    assert subject(ten) == subject(nine) and "peak-season hiring" in body(ten) and "SOC 2 Type II report" in body(ten)
    assert words(ten) < 50 or "over your limit of 49: everything left is something you asked for" in reply
    assert "greeting: \u201cDear %first_name%,\u201d" in reply and "P.S.: \u201cP.S. If it helps" in reply
    assert re.search(r"Still applied from earlier turns: .*signed \u201cTom\u201d", reply)

    _, with_examples = await generate_examples(api, sid, LEAD_JSON)
    for example, lead in zip(with_examples["generated_examples"], LEAD_JSON, strict=True):
        assert example["status"] == "ok", example
        assert example["body"].startswith(f"Dear {lead['first_name']},") and lead["company"] in example["subject"]
        assert f"Peak-season hiring is probably high on your list as {lead['position']} at {lead['company']}." in \
            example["body"]
        assert english_problems(example["body"]) == [] and english_problems(example["subject"], email=False) == []
