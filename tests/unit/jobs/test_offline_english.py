"""Readable English from the offline writer: the grammar helpers, then a corpus of briefs, tones,
calls to action and leads (names and companies ending in s, words starting with a vowel, missing
fields, long names, headlines) whose drafts and examples must contain no broken English and pass
the output rules."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest

from core.payloads import Lead
from jobs.agent.english import article, clip, offer_sentence, possessive, short_offer, split_sentences, theme, topic
from jobs.agent.offline_draft import mention_sentence, plain_words, write
from jobs.agent.offline_writer import write_example
from jobs.agent.output import ExampleOutput, TurnOutput
from jobs.agent.requests import standing
from jobs.agent.rules import example_problems, turn_problems
from tests.support.english_checks import english_problems


@pytest.mark.parametrize(("phrase", "expected"), [
    ("onboarding platform", "an"), ("8-minute call", "an"), ("11-minute demo", "an"), ("18-month plan", "an"),
    ("80-word email", "an"), ("15-minute call", "a"), ("110-minute", "a"), ("unicorn", "a"), ("user", "a"),
    ("one-time fee", "a"), ("European team", "a"), ("hour", "an"), ("honest answer", "an"), ("SDR", "an"),
    ("HR team", "an"), ("CRM", "a"), ("SOC 2 report", "a"), ("SaaS team", "a"), ("ERP", "an"), ("umbrella", "an"),
    ("intro call", "an"), ("quick chat", "a"), ("%position%", "a"),
])
def test_the_article_follows_the_sound_of_the_next_word(phrase: str, expected: str) -> None:
    assert article(phrase) == expected


@pytest.mark.parametrize(("name", "person", "expected"), [
    ("Engines", False, "Engines'"), ("Acme Systems", False, "Acme Systems'"), ("Acme", False, "Acme's"),
    ("Globex", False, "Globex's"), ("Analytics", False, "Analytics's"), ("Business", False, "Business's"),
    ("Jonas", True, "Jonas's"), ("Charles", True, "Charles's"), ("Sara", True, "Sara's"), ("Ross", False, "Ross's"),
])
def test_possessives_follow_one_rule_singular_s_apostrophe_s_plural_apostrophe(name: str, person: bool,
                                                                              expected: str) -> None:
    assert possessive(name, person=person) == expected


@pytest.mark.parametrize(("offer", "sentence"), [
    ("Rampwise, an onboarding platform that cuts new-rep ramp time in half",
     "Rampwise is an onboarding platform that cuts new-rep ramp time in half."),
    ("15 minutes to ROI", "We offer 15 minutes to ROI."),
    ("payroll software to restaurant owners", "We offer payroll software to restaurant owners."),
    ("Payroll software for restaurants", "We offer payroll software for restaurants."),
    ("payroll software that saves 5 hours a week", "We offer payroll software that saves 5 hours a week."),
    ("our bookkeeping service that closes your books in 3 days", "Our bookkeeping service closes your books in 3 days."),
    ("our tools that save time", "Our tools save time."),
    ("our service cuts costs that matter", "Our service cuts costs that matter."),  # it has a main verb already
    ("our platform that its users love", "Our platform that its users love."),  # no verb after "that": as given
    ("NurseShift, which fills open shifts in hours", "NurseShift fills open shifts in hours."),
    ("Deployly, one-click rollbacks", "We offer Deployly, one-click rollbacks."),  # a name keeps its capital
    ("Facebook ads for DTC brands", "We offer Facebook ads for DTC brands."),  # a platform's name: was "facebook"
    ("Shopify store audits", "We offer Shopify store audits."),
    ("we help restaurants run payroll in half the time", "We help restaurants run payroll in half the time."),
    ("Shiftly cuts scheduling time by 80%", "Shiftly cuts scheduling time by 80%."),
    ("Shiftly, which automates shift scheduling", "Shiftly automates shift scheduling."),
    ("Rampwise", "I am reaching out about Rampwise."),
    # "our X, Name, that …" had no main verb ("Our SOC 2 tool, Vanta-lite, that gets them audit-ready …."), and
    # "them" named no one the email had mentioned
    ("our SOC 2 compliance tool, Vanta-lite, that gets them audit-ready in 3 weeks",
     "Our SOC 2 compliance tool, Vanta-lite, gets teams like yours audit-ready in 3 weeks."),
    ("our app, which tracks spend", "Our app tracks spend."),
    ("we help them cut food waste by 30%", "We help teams like yours cut food waste by 30%."),
    ("our tools get them paid faster", "Our tools get them paid faster."),  # "them" may be the tools' users
])
def test_an_offer_becomes_a_full_sentence(offer: str, sentence: str) -> None:
    assert offer_sentence(offer) == sentence


def test_offer_helpers_name_the_product_its_benefit_and_its_theme() -> None:
    offer = "Rampwise, an onboarding platform that cuts new-rep ramp time in half"
    assert (topic(offer), theme(offer), short_offer(offer)) == (
        "Rampwise", "new-rep ramp time", "Rampwise cuts new-rep ramp time in half.")
    assert theme("payroll software for restaurants") == "payroll"
    assert theme(offer, "time-to-ROI") == "time-to-ROI"
    assert topic("we help restaurants run payroll") == ""
    # "a platform" names no category: the opener once read "why a matters to …"
    assert theme("Flowly, a platform that helps finance teams leverage automation to streamline the close") is None
    assert theme("Flowly, an HR platform for startups") == "HR"


@pytest.mark.parametrize(("allowed", "subject"), [
    (["first_name", "company"], "A quick idea for %company%"),
    (["first_name"], "A quick idea for your team"),
])
def test_an_offer_with_nothing_to_name_still_gets_a_subject_that_reads(allowed: list[str], subject: str) -> None:
    """"we help restaurants cut food waste by 30%" names no product, theme or category: the subject once
    read "This for %company%"."""
    brief = ["Audience: restaurant owners. Offer: we help restaurants cut food waste by 30%. CTA: a quick demo."]
    assert write(standing(brief), allowed).subject == subject


@pytest.mark.parametrize(("item", "line"), [
    ("their role", "It is also worth mentioning their role."),  # once "our their role"
    ("their recent funding round", "It is also worth mentioning their recent funding round."),
    ("free pilot", "It is also worth mentioning our free pilot."),
    ("we're SOC 2 compliant", "We're SOC 2 compliant."),  # once "I can share our we're SOC 2 compliant if it helps."
    ("it starts at $49/month", "It starts at $49/month."),  # once "One result worth sharing: it starts at …"
])
def test_a_mention_is_ours_only_when_it_names_no_owner(item: str, line: str) -> None:
    assert mention_sentence(item) == line


def test_a_variable_the_user_left_out_appears_nowhere_and_its_sentences_stay() -> None:
    brief = ["Audience: dentists. Offer: online booking that fills empty chairs. CTA: a 15-minute call."]
    allowed = ["first_name", "company"]
    before = write(standing(brief), allowed)
    after = write(standing([*brief, "don't mention the company name anywhere", "stop using their first name"]), allowed)
    assert "%company%" in before.subject + before.body and "%first_name%" in before.body
    assert "%company%" not in after.subject + after.body and "%first_name%" not in after.body
    assert after.subject == "Online booking for your team" and after.body.startswith("Hi there,")
    assert after.body.count("&&") == before.body.count("&&")  # the hook and proof placeholders are still there


@pytest.mark.parametrize(("limit", "clipped"), [
    (110, "&&One sentence on a specific, recent detail about the team at %company% (a launch, a hire, a post) and "
          "how\u2026&&"),
    (75, "&&One sentence on a specific, recent detail about the team at %company%\u2026&&"),  # never inside %company%
    (20, "&&One sentence on\u2026&&"),
])
def test_a_long_span_is_clipped_inside_and_closed_again(limit: int, clipped: str) -> None:
    """A quoted placeholder longer than the quote's limit was reduced to a bare "…" in the reply."""
    span = ("&&One sentence on a specific, recent detail about the team at %company% (a launch, a hire, a post) and "
            "how it ties to new-rep ramp time&&")
    assert clip(span, limit) == clipped and len(clipped) <= limit


def test_more_personalization_asks_each_lead_specific_detail_and_keeps_the_rest() -> None:
    brief = ["Audience: dentists. Offer: online booking that fills empty chairs. CTA: a 15-minute call."]
    allowed = ["first_name", "company"]
    plain, personal = write(standing(brief), allowed), write(standing([*brief, "personalize it more"]), allowed)
    assert "&&One sentence on a specific, recent detail about the team at %company% (a launch, a hire, a post)" \
        in personal.body and "&&One customer result from a company like %company% (same industry or size)&&" \
        in personal.body
    assert personal.body.count("&&") == plain.body.count("&&") and personal.subject == plain.subject
    assert personal.skeleton["hook"]["strategy"].startswith("Open with one specific, recent detail about the lead")
    assert "a similar team" in write(standing([*brief, "too generic"]), ["first_name"]).body  # no %company% to use
    context = {"lead": msgspec.to_builtins(LEADS[0]), "skeleton": personal.skeleton,
               "draft_template": {"subject": personal.subject, "body": personal.body}}
    hook = write_example(context, [])["body"].split("\n\n")[1]
    # was "A specific is probably high on your list as …"
    assert hook == "As Head of Sales at Engines, you may be the right person to talk to about online booking."


def test_without_a_greeting_the_body_starts_with_the_opener_and_keeps_everything_else() -> None:
    brief = ["Audience: dentists. Offer: online booking that fills empty chairs. CTA: a 15-minute call."]
    allowed = ["first_name", "company"]
    before = write(standing([*brief, "warmer"]), allowed).body
    after = write(standing([*brief, "warmer", "remove the greeting"]), allowed).body
    assert before.startswith("Hi %first_name%,\n\n") and before.removeprefix("Hi %first_name%,\n\n") == after
    assert write(standing([*brief, "warmer", "no greeting", "one paragraph"]), allowed).body.startswith("I hope")


@pytest.mark.parametrize(("offer", "hook"), [
    ("white-label SEO reports", "a problem white-label SEO reports solve for the team at %company%"),
    ("Rampwise", "a problem Rampwise solves for the team at %company%"),
    ("Facebook ads", "a problem Facebook ads solve for the team at %company%"),  # three letters, still plural
])
def test_the_hook_placeholder_agrees_with_the_offer_it_names(offer: str, hook: str) -> None:
    """The plural needs "solve"; the example writer still reads the placeholder either way."""
    written = write(standing([f"Audience: agency owners. Offer: {offer}. CTA: a 15-minute call."]),
                    ["first_name", "company"])
    assert f"&&One sentence on {hook}&&" in written.body
    context = {"lead": msgspec.to_builtins(LEADS[0]), "skeleton": written.skeleton,
               "draft_template": {"subject": written.subject, "body": written.body}}
    assert f"talk to about {offer}." in write_example(context, [])["body"]


@pytest.mark.parametrize(("offer", "name", "short"), [
    ("payroll software that saves 5 hours a week", "payroll software", "Payroll software saves 5 hours a week."),
    ("AI scheduling which cuts overtime by 20%", "AI scheduling", "AI scheduling cuts overtime by 20%."),
    ("Shiftly cuts scheduling time in half", "Shiftly", "Shiftly cuts scheduling time in half."),
])
def test_an_offer_named_by_what_it_is_keeps_its_whole_name(offer: str, name: str, short: str) -> None:
    """A relative pronoun ends the name: "payroll software that saves…" once became "payroll software
    that", and the subject "Payroll software that for %company%"."""
    assert (topic(offer), short_offer(offer)) == (name, short)
    assert theme("15 minutes to ROI") == "time to ROI"


def test_sentences_split_without_breaking_abbreviations_or_spans() -> None:
    assert split_sentences("Hi there. &&One. Two&& More text! P.S. this is e.g. fine.") == [
        "Hi there.", "&&One. Two&&", "More text!", "P.S. this is e.g. fine."]


BRIEFS = [
    ["Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI",
     "We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo."],
    ["Audience: HR directors at hotel chains. We sell Shiftly, which automates shift scheduling. CTA: a quick chat."],
    ["VPs of Sales at SaaS companies; offer: 15 minutes to ROI; CTA: a call"],
    ["We sell payroll software to restaurant owners. Goal: book an 8-minute demo."],
    ["Write to operations managers. We offer an AI assistant that speeds up invoice approval for finance teams. "
     "CTA: an intro call."],
    ["For founders of seed-stage startups. We help founders close their books in a day. Ask them to reply."],
]
TONES = [[], ["more casual"], ["more formal"], ["warmer"], ["more direct"], ["more casual", "warmer"]]
EXTRAS = [[], ["shorter"], ["ask them to reply instead"], ["end with a link to my calendar https://cal.com/tom"],
          ["Mention our SOC 2 Type II report", "add our case study with DHL", "add a P.S. about our free pilot",
           "sign off with 'Cheers, Tom'"],
          ["open with peak-season hiring", "make the subject a question", "one paragraph", "under 70 words"],
          ["start with a question about their hiring plans", "highlight that we integrate with Salesforce"]]
LEADS = [
    Lead(first_name="Jonas", last_name="Andrews", company="Engines", position="Head of Sales"),
    Lead(first_name="Charles", company="Acme Systems", position="VP of Operations", custom_fields={"industry": "SaaS"}),
    Lead(first_name="Agnes", company="Ursus Hotels", position="HR Director", custom_fields={"industry": "hospitality"}),
    Lead(first_name="Eve", company="Uber", position="Account Executive"),
    Lead(first_name="Omar", company="Analytics", position="Operations Manager", headline="Scaling ops teams | ex-Stripe"),
    Lead(first_name="Ida", company="eBay", position="Owner"),
    Lead(first_name="Maximilian-Alexander", last_name="von Hohenzollern-Sigmaringen",
         company="The International Association of Professional Event Planners and Coordinators",
         position="Executive Director of Member Services and Strategic Partnerships"),
    Lead(full_name="Eli Brooks"),
    Lead(company="Initech"),
    Lead(position="CFO"),
    Lead(first_name="Ana", headline="Building finance teams at Brex"),
    Lead(),
    Lead(first_name="Ines", company="Acme Logistics"),  # a singular name ending in s: no "Logistics's"
    Lead(first_name="Ada", company="Acme Logistics", headline="Hiring 200 warehouse staff for peak season"),
]
ALLOWED = [["first_name", "company", "position"], ["first_name", "company"], ["email"]]


def corpus() -> list[tuple[list[str], list[str]]]:
    return [(brief + tone + extra, allowed) for brief, tone, extra, allowed in itertools.product(BRIEFS, TONES, EXTRAS, ALLOWED)
            if allowed == ALLOWED[0] or (tone == [] and extra in (EXTRAS[0], EXTRAS[5]))]


def test_drafts_over_the_corpus_read_as_english_and_pass_the_rules() -> None:
    checked = 0
    for messages, allowed in corpus():
        state = standing(messages)
        written = write(state, allowed)
        out = TurnOutput(reply="ok", skeleton=written.skeleton, draft_subject=written.subject, draft_body=written.body)
        assert turn_problems(out, allowed) == [], (messages, written.body)
        assert english_problems(written.body, template=True) == [], (messages, written.body)
        checked += 1
    assert checked > 250


def test_examples_over_the_corpus_of_leads_read_as_english_and_pass_the_rules() -> None:
    checked = 0
    for messages, allowed in corpus()[::3]:
        written = write(standing(messages), allowed)
        for lead in LEADS:
            context: dict[str, Any] = {"lead": msgspec.to_builtins(lead), "skeleton": written.skeleton,
                                       "draft_template": {"subject": written.subject, "body": written.body}}
            example = write_example(context, [])
            out = ExampleOutput(**example)
            assert example_problems(out) == [], (messages, lead, example)
            assert english_problems(example["body"]) == [], (messages, lead, example["body"])
            assert english_problems(example["subject"], email=False) == [], example["subject"]
            checked += 1
    assert checked > 1000


def test_an_example_fills_each_span_with_something_about_the_lead() -> None:
    written = write(standing(BRIEFS[0] + ["open with peak-season hiring"]), ["first_name", "company", "position"])
    examples = {}
    for lead in LEADS[:5] + [LEADS[7], LEADS[10], LEADS[11]]:
        context = {"lead": msgspec.to_builtins(lead), "skeleton": written.skeleton,
                   "draft_template": {"subject": written.subject, "body": written.body}}
        examples[lead.first_name or lead.full_name or "nobody"] = write_example(context, [])["body"]
    assert "Peak-season hiring is probably high on your list as Head of Sales at Engines." in examples["Jonas"]
    assert "Teams similar to Engines have cut new-rep ramp time in half with Rampwise." in examples["Jonas"]
    assert "SaaS teams similar to Acme Systems have cut" in examples["Charles"]
    assert "as Account Executive at Uber" in examples["Eve"]
    assert "I saw you are scaling ops teams, so peak-season hiring is probably high on your list." in examples["Omar"]
    assert "I saw you are building finance teams at Brex" in examples["Ana"]
    assert examples["Eli Brooks"].startswith("Hi Eli,")  # the first name comes from the full name
    assert examples["nobody"].startswith("Hi there,")
    assert "Peak-season hiring tends to be high on the list for enterprise VPs of Sales." in examples["nobody"]
    assert "Teams like yours have cut new-rep ramp time in half with Rampwise." in examples["nobody"]


def test_a_long_company_name_keeps_the_example_subject_within_60_characters() -> None:
    written = write(standing(BRIEFS[0] + ["make the subject a question"]), ["first_name", "company", "position"])
    context = {"lead": msgspec.to_builtins(LEADS[6]), "skeleton": written.skeleton,
               "draft_template": {"subject": written.subject, "body": written.body}}
    subject = write_example(context, [])["subject"]
    assert subject == "Is time-to-ROI a priority?"
    possessive_subject = write_example({**context, "draft_template": {"subject": "%company%'s ramp plan",
                                                                       "body": written.body}}, [])["subject"]
    assert possessive_subject.endswith("Coordinators' ramp plan") or len(possessive_subject) <= 60


def test_the_checks_catch_the_mistakes_the_issue_reported() -> None:
    old_example = ("Hi Ada,\n\nAs CTO at Engines, you are likely the one who feels this first.\n\n15 minutes to ROI.\n\n"
                   "Teams like Engines's saw results within the first quarter.\n\n"
                   "Would you be open to a reply next week?\n\nBest regards")
    found = " | ".join(english_problems(old_example))
    for mistake in ("'s after a plural-looking name", "Teams like X's", "a reply treated as a meeting",
                    "no verb, a bare noun phrase: '15 minutes to ROI.'"):
        assert mistake in found
    assert english_problems("Hi,\n\nWe built a onboarding tool for a 8-minute setup.\n\nBest") != []


def test_the_opener_span_agrees_with_its_topic() -> None:
    allowed = ["first_name", "company", "position"]
    plural = write(standing(BRIEFS[0] + ["The hook should be about Q4 quotas"]), allowed).body
    singular = write(standing(BRIEFS[0] + ["open with peak-season hiring"]), allowed).body
    assert "&&One sentence on why Q4 quotas matter to %position% at %company%&&" in plural
    assert "&&One sentence on why peak-season hiring matters to %position% at %company%&&" in singular


def test_an_example_opener_reads_well_mid_sentence_and_with_names_ending_in_s() -> None:
    written = write(standing(BRIEFS[0]), ["first_name", "company", "position"])  # the opener is about time-to-ROI
    examples = {}
    for lead in (LEADS[10], LEADS[12], LEADS[13]):
        context = {"lead": msgspec.to_builtins(lead), "skeleton": written.skeleton,
                   "draft_template": {"subject": written.subject, "body": written.body}}
        examples[lead.first_name] = write_example(context, [])["body"]
    assert "I saw you are building finance teams at Brex, so time-to-ROI is probably high on your list." \
        in examples["Ana"]  # not "so Time-to-ROI"
    assert "Time-to-ROI is probably on the radar at Acme Logistics this quarter." in examples["Ines"]
    assert "I saw you are hiring 200 warehouse staff for peak season, so time-to-ROI is probably high on your list." \
        in examples["Ada"]  # "Hiring" followed by what they hire is something they do


def test_plain_words_swap_jargon_one_for_one_keeping_capitals_and_variables() -> None:
    text, swapped = plain_words("Leverage %data_leverage% in order to optimize spend. It streamlines the close.")
    assert text == "Use %data_leverage% to improve spend. It simplifies the close." and swapped == 4
    assert plain_words("We help teams close the books faster.") == ("We help teams close the books faster.", 0)


def test_an_abbreviation_is_looked_for_at_a_stop_only_a_few_characters_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """"A. A. A. …" never ends a sentence, and each stop once searched the whole growing chunk: a PATCHed draft
    of 50,000 characters held the worker's event loop for 12 s on the next turn."""
    from jobs.agent import english

    looked: list[int] = []
    real = english._ABBREVIATIONS

    class Counting:
        def search(self, text: str, pos: int = 0, endpos: int | None = None) -> Any:
            looked.append((len(text) if endpos is None else endpos) - pos)
            return real.search(text, pos, len(text) if endpos is None else endpos)

    monkeypatch.setattr(english, "_ABBREVIATIONS", Counting())
    body = "A. " * 2_000 + "Done. " + "Dr. Who met Mr. Smith. " * 10
    got = english.split_sentences(body)
    assert got[0] == body[:6_005].strip() and got[1:] == ["Dr. Who met Mr. Smith."] * 10
    assert max(looked) <= 12 and len(looked) == 2_000 + 1 + 30


@pytest.mark.parametrize("body", ["Hi %first_name%,\n\n" + "&&One customer result&& " * 5_000,
                                  "&&" + "&" * 48_000, "Hi %first_name%,\n" + "\n" * 48_000 + "Thanks."],
                         ids=["thousands of spans", "ampersands, one left unpaired", "a stack of blank lines"])
def test_an_example_from_a_patched_draft_of_thousands_of_spans_or_blank_lines_stays_an_email(body: str) -> None:
    """Each span became a sentence: 12,000 of them made a 900,000-character example, over the example cap, so
    every attempt was rejected, three per lead, each ~150 ms on the worker's event loop (50 leads: 20 s)."""
    from jobs.agent.offline_writer import MAX_SPANS

    context = {"lead": {"first_name": "Sara", "company": "Acme", "position": "VP Sales"},
               "skeleton": {"offer": "Rampwise, an onboarding platform"}, "draft_template": {"subject": "Hi", "body": body}}
    example = write_example(context, [])
    assert example_problems(ExampleOutput(**example)) == [], example["body"][:200]
    assert "\n\n\n" not in example["body"] and example["body"].count(".") <= MAX_SPANS + 5
