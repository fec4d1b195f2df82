"""What the embedded default model (LLM_MODEL=offline) does with the feedback users give, as a
specification, run through the real API of a server started as a newcomer starts it (no configuration:
SQLite, turns in the embedded worker process, the offline model).

Each row of the table is one feedback message and the property the next draft must have: a session,
a first draft from a full brief (the only turn that gives ``availableVarNames``: the session remembers
them), sometimes a setup turn, then the feedback turn. Then a conversation of more than ten turns in
which requests accumulate: each kind of feedback (tone, length, sign-off, opener, subject, proof point
added and removed, P.S., call to action, audience, offer) shows in the draft and stays there in every
later turn, replies describe the actual change, the whitelist given once holds to the end, and the
examples for a corpus of awkward leads read as English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from jobs.agent.english import count_words
from jobs.agent.rules import VAR_RE
from tests.conftest import start_server, stop_server
from tests.support.english_checks import english_problems
from tests.support.live import LiveClient
from tests.support.scripted import LEAD_JSON

WHITELIST = ["first_name", "company"]  # not position: a turn that forgot it would use %position%
BRIEF = ("Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI. We sell Rampwise, an onboarding "
         "platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo.")
TURN_SECONDS = 30  # a deadline for one turn on a loaded machine, not a speed target


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveClient]:
    """One server for the module, started with no configuration at all."""
    server = start_server(tmp_path_factory.mktemp("writer"))
    try:
        yield LiveClient(server.url, server.create_key())
    finally:
        stop_server(server)


Session = dict[str, Any]


def say(client: LiveClient, sid: str, message: str, **extra: Any) -> tuple[Session, str]:
    """One turn through the API, waited for: (the session afterwards, the assistant's reply)."""
    accepted = client.start(sid, "turn", {"message": message, **extra})
    after = client.wait_idle(sid, timeout=TURN_SECONDS)
    last = after["last_run"]
    assert last["id"] == accepted["runId"] and last["status"] == "succeeded", last
    return after, after["messages"][-1]["content"]


def body(s: Session) -> str:
    return str(s["draft_body"])


def subject(s: Session) -> str:
    return str(s["draft_subject"])


def words(s: Session) -> int:
    return count_words(body(s))


def used_variables(s: Session) -> set[str]:
    """The variables in the draft, the skeleton and the latest reply."""
    return set(VAR_RE.findall(f"{subject(s)} {body(s)} {s['skeleton']} {s['messages'][-1]['content']}"))


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
    check: Check  # (the draft before the message, the draft after it)
    setup: tuple[str, ...] = ()  # turns before the message (after the first draft)


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
    # removals of something an earlier turn added (the setup), in other words than it was added with
    Row("Actually drop the DHL case study", "no case study", lambda a, b: "DHL" in body(a) and "DHL" not in body(b),
        setup=("Add our case study with DHL",)),
    Row("Take the case study out", "no case study", lambda a, b: "case study" not in body(b),
        setup=("Include the DHL case study",)),
    Row("Drop the SOC 2 report", "no report", lambda a, b: "SOC 2" in body(a) and "SOC 2" not in body(b),
        setup=("Mention our SOC 2 Type II report",)),
    Row("Don't mention Salesforce anymore", "no Salesforce", lambda a, b: "Salesforce" not in body(b),
        setup=("Highlight that we integrate with Salesforce",)),
    Row("OK lose the P.S.", "no P.S.", lambda a, b: "P.S." in body(a) and "P.S." not in body(b),
        setup=("Add a P.S. about our free pilot",)),
    Row("I don't want the P.S.", "no P.S.", lambda a, b: "P.S." not in body(b), setup=("P.S.: we're at SaaStr",)),
    # more sign-off phrasings
    Row("Swap the sign-off for 'Thanks, Priya'", "the sign-off and name", lambda a, b: body(b).endswith("Thanks,\nPriya")),
    Row("switch my sign off to Best, Ana", "the sign-off and name", lambda a, b: body(b).endswith("Best,\nAna")),
    # a new offer that says who uses it keeps the audience
    Row("We now sell Rampwise Coach, an AI tutor for new reps", "the new offer, the same audience",
        lambda a, b: "Rampwise Coach is an AI tutor for new reps." in body(b)
        and b["skeleton"]["audience"] == a["skeleton"]["audience"] == "enterprise VPs of Sales"),
]


UNDERSTOOD_NOTHING = ["Make it pop", "Hmm, not sure about the vibe here", "Can you add some sparkle?"]


def first_draft_then(client: LiveClient, message: str, setup: tuple[str, ...] = ()) -> tuple[Session, Session, str]:
    sid = client.create_session()
    first, _ = say(client, sid, BRIEF, availableVarNames=WHITELIST)  # the whitelist, given once
    assert first["framework_version"] == 1 and first["draft_body"], first["messages"][-1]
    before = first
    for earlier in setup:
        before, _ = say(client, sid, earlier)
    after, reply = say(client, sid, message)
    return before, after, reply


@pytest.mark.parametrize("row", ROWS, ids=[r.message for r in ROWS])
def test_feedback_shows_in_the_next_draft(client: LiveClient, row: Row) -> None:
    before, after, reply = first_draft_then(client, row.message, row.setup)
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
    assert used_variables(after) <= set(WHITELIST) and after["available_var_names"] == WHITELIST


@pytest.mark.parametrize("message", UNDERSTOOD_NOTHING)
def test_feedback_it_cannot_act_on_changes_nothing_and_says_what_it_can_do(client: LiveClient, message: str) -> None:
    before, after, reply = first_draft_then(client, message)
    assert (subject(after), body(after), after["framework_version"]) == (subject(before), body(before), 1)
    assert reply.startswith("Nothing changed in the skeleton or the draft.")
    assert "I did not understand" in reply and "the tone (casual, formal, warmer, more direct)" in reply
    assert "the call to action" in reply


def test_a_request_already_met_changes_nothing_and_says_so(client: LiveClient) -> None:
    before, after, reply = first_draft_then(client, "Keep it under 120 words")
    assert body(after) == body(before)
    assert reply.startswith("Nothing changed in the skeleton or the draft: it is already within 119 words")


# Leads whose examples are easy to get wrong: names and companies ending in s, vowels, missing fields,
# a long company name, a headline, nothing at all.
AWKWARD_LEADS = [*LEAD_JSON,
                 {"first_name": "Jonas", "last_name": "Weiss", "company": "Engines", "position": "HR Director"},
                 {"first_name": "Agnes", "company": "Acme Logistics", "headline": "Hiring 200 warehouse staff for peak season"},
                 {"full_name": "Eve Adams", "company": "Oakwood Freight Systems International Holdings Group"},
                 {"first_name": "Ida", "company": "Umbrella Analytics"},
                 {"first_name": "Omar"},
                 {}]


def test_a_long_conversation_accumulates_every_kind_of_request(client: LiveClient) -> None:
    sid = client.create_session()
    # What each turn established and every later turn must keep; a later turn that changes a kind
    # replaces or removes its entry. Checked after every turn.
    kept: dict[str, Callable[[Session], bool]] = {}

    def turn(message: str, **extra: Any) -> tuple[Session, str]:
        after, reply = say(client, sid, message, **extra)
        assert after["available_var_names"] == WHITELIST  # given once, on the first turn
        if after["draft_body"]:
            assert used_variables(after) <= set(WHITELIST), body(after)
            assert english_problems(body(after), template=True) == [], body(after)
        for name, holds in kept.items():
            assert holds(after), f"turn {message!r} lost {name}:\n{subject(after)}\n{body(after)}"
        return after, reply

    # 1. a vague brief gets questions; the only turn that gives the whitelist
    one, reply = turn("Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI",
                      availableVarNames=WHITELIST)
    assert one["draft_body"] is None and "What do you sell" in reply

    # 2. the details give the first draft
    two, reply = turn("We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. "
                      "Goal: book a 15-minute demo.")
    assert two["framework_version"] == 1 and "Here is a first skeleton and draft" in reply
    assert body(two).startswith("Hi %first_name%,") and "Would you be open to a 15-minute demo next week?" in body(two)

    # 3. tone, length and signature at once
    three, reply = turn("Shorter and more casual, sign it Tom")
    assert words(three) < words(two) and body(three).startswith("Hey %first_name%,")
    assert body(three).endswith("Cheers,\nTom")
    assert "greeting: \u201cHey %first_name%,\u201d" in reply and "sign-off: \u201cCheers, / Tom\u201d" in reply
    assert f"{words(two)} \u2192 {words(three)} words" in reply
    kept["the casual greeting"] = lambda s: body(s).startswith("Hey %first_name%,")
    kept["the signature"] = lambda s: "\nTom" in body(s)
    kept["the short layout"] = lambda s: len(content_paragraphs(s)) <= 2

    # 4. a proof point: the plan changes (a new framework version), earlier requests stay
    four, reply = turn("Mention our SOC 2 Type II report")
    assert four["framework_version"] == 2 and "I can share our SOC 2 Type II report if it helps." in body(four)
    assert "proof plan: \u201cCite: SOC 2 Type II report\u201d" in reply
    assert "Still applied from earlier turns: casual tone; shorter; signed \u201cTom\u201d." in reply
    kept["the SOC 2 report"] = lambda s: "SOC 2 Type II report" in body(s)

    # 5. the subject becomes a question; the body is untouched
    five, reply = turn("Make the subject a question")
    assert subject(five) == "Is time-to-ROI a priority at %company%?"
    assert "subject: \u201cRampwise for %company%\u201d \u2192 \u201cIs time-to-ROI a priority at %company%?\u201d" in reply
    assert body(five) == body(four)
    kept["the question subject"] = lambda s: subject(s).endswith("?")

    # 6. the opener
    six, reply = turn("Open with peak-season hiring")
    assert content_paragraphs(six)[0].startswith("&&One sentence on why peak-season hiring matters")
    assert "opener plan: \u201cOpen with peak-season hiring" in reply
    kept["the opener"] = lambda s: "&&One sentence on why peak-season hiring matters" in body(s)

    # 7. a word limit: the offer line gets shorter, nothing that was asked for goes
    seven, reply = turn("Keep it under 50 words")
    assert words(seven) < 50 <= words(six)
    assert "reworded \u201cRampwise is an onboarding platform that cuts new-rep ramp time in half.\u201d \u2192 " \
           "\u201cRampwise cuts new-rep ramp time in half.\u201d" in reply
    kept["the word limit, or a reply that says why not"] = lambda s: words(s) < 50 or "over your limit of 49" in \
        s["messages"][-1]["content"]

    # 8. the call to action
    eight, reply = turn("Ask them to reply instead")
    assert "If it's interesting, just hit reply and I'll send more." in body(eight)
    assert "call-to-action plan: \u201cAsk them to reply to the email\u201d" in reply
    kept["the reply ask"] = lambda s: "reply" in cta(s) and "demo" not in cta(s)

    # 9. something it does not understand changes nothing, and it says so
    nine, reply = turn("Make it pop")
    assert (subject(nine), body(nine), nine["framework_version"]) == (subject(eight), body(eight),
                                                                      eight["framework_version"])
    assert reply.startswith("Nothing changed") and "I did not understand" in reply

    # 10. a change of mind on tone, plus a P.S.: the later tone replaces the earlier one, the rest stays
    del kept["the casual greeting"]
    ten, reply = turn("Actually, make it more formal and add a P.S. about our free pilot")
    assert body(ten).startswith("Dear %first_name%,") and "Kind regards,\nTom" in body(ten)
    assert "please reply to this email" in body(ten)
    assert body(ten).endswith("P.S. If it helps, I can also tell you more about our free pilot.")
    assert "greeting: \u201cDear %first_name%,\u201d" in reply and "P.S.: \u201cP.S. If it helps" in reply
    assert re.search(r"Still applied from earlier turns: .*signed \u201cTom\u201d", reply)
    kept["the formal greeting"] = lambda s: body(s).startswith("Dear %first_name%,")
    kept["the P.S."] = lambda s: "P.S. If it helps, I can also tell you more about our free pilot." in body(s)

    # 11. the proof point comes out, in other words than it went in; a new sign-off and name
    del kept["the SOC 2 report"], kept["the signature"]
    eleven, reply = turn("OK drop the SOC 2 report, and sign off with 'Best, Tom Baker'")
    assert "SOC 2" not in body(eleven) and body(eleven).split("\n\nP.S.")[0].endswith("Best,\nTom Baker")
    assert "removed \u201cI can share our SOC 2 Type II report if it helps.\u201d" in reply
    assert "sign-off: \u201cBest, / Tom Baker\u201d" in reply
    assert eleven["framework_version"] == ten["framework_version"] + 1  # the proof plan changed
    kept["no SOC 2"] = lambda s: "SOC 2" not in body(s)
    kept["the new sign-off"] = lambda s: "\n\nBest,\nTom Baker" in body(s)

    # 12. a new audience: the plan changes, the draft's requests stay
    twelve, reply = turn("Change the audience to HR directors at logistics firms")
    assert twelve["skeleton"]["audience"] == "HR directors at logistics firms"
    assert twelve["framework_version"] == eleven["framework_version"] + 1
    assert "audience: \u201cHR directors at logistics firms\u201d" in reply
    kept["the audience"] = lambda s: s["skeleton"]["audience"] == "HR directors at logistics firms"

    # 13. a new offer: its own sentence, the audience kept
    thirteen, reply = turn("We now sell Rampwise Coach, an AI tutor that gets new reps to quota in half the time")
    assert thirteen["skeleton"]["offer"] == "Rampwise Coach, an AI tutor that gets new reps to quota in half the time"
    assert "Rampwise Coach gets new reps to quota in half the time." in body(thirteen)
    assert "offer: \u201cRampwise Coach, an AI tutor" in reply and "reworded \u201cRampwise cuts" in reply

    # examples for awkward leads: every one written, read as English, no placeholder left
    client.start(sid, "generate-examples", {"leads": AWKWARD_LEADS, "isFirstBatch": True})
    examples = client.wait_idle(sid, timeout=TURN_SECONDS)["generated_examples"]
    assert len(examples) == len(AWKWARD_LEADS)
    for example, lead in zip(examples, AWKWARD_LEADS, strict=True):
        assert example["status"] == "ok", example
        text = example["subject"] + "\n" + example["body"]
        assert not re.search(r"%|&&", text), text
        assert english_problems(example["body"]) == [] and english_problems(example["subject"], email=False) == []
        name = lead.get("first_name") or (lead.get("full_name") or "").split(" ")[0]
        assert example["body"].startswith(f"Dear {name}," if name else "Hello,"), example["body"]
        assert "Rampwise Coach gets new reps to quota in half the time." in example["body"]
        assert example["body"].endswith("P.S. If it helps, I can also tell you more about our free pilot.")
        if lead.get("company") and len(lead["company"]) < 30:
            assert lead["company"] in text, text
