"""The built-in offline model: the product protocol, deterministic, through the same agent and validators."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.events import RecordingReporter
from core.payloads import SequenceContext
from jobs.agent import AgentLLM
from jobs.agent.offline import offline_model
from jobs.agent.rules import VAR_RE
from jobs.llm import ExampleContext, TurnResult, allowed_variables
from tests.support.scripted import LEADS, turn_context

BRIEF = "Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI"
DETAILS = "We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo."


class Conversation:
    """Holds session state between turns the way the chat-turn job does."""

    def __init__(self, available: list[str] | None = None, sequence: SequenceContext | None = None) -> None:
        self.llm = AgentLLM(offline_model(), name="offline", token_limit=200_000)
        self.transcript: list[dict[str, Any]] = []
        self.skeleton: dict[str, Any] | None = None
        self.draft: tuple[str | None, str | None] = (None, None)
        self.available = available
        self.sequence = sequence

    async def say(self, message: str) -> TurnResult:
        ctx = turn_context(message, transcript=self.transcript, skeleton=self.skeleton, draft=self.draft,
                           available=self.available, sequence=self.sequence)
        result = await self.llm.chat_turn(ctx, RecordingReporter())
        assert result.retries == 0  # the offline model follows the rules the first time
        self.transcript += [{"role": "user", "content": message}, {"role": "assistant", "content": result.reply}]
        self.skeleton = result.skeleton or self.skeleton
        if result.draft_body is not None:
            self.draft = (result.draft_subject, result.draft_body)
        return result


async def test_a_vague_brief_gets_clarifying_questions_and_no_skeleton() -> None:
    result = await Conversation().say(BRIEF)
    assert result.skeleton is None and result.draft_body is None
    assert "enterprise VPs of Sales" in result.reply
    assert "What do you sell" in result.reply and "What should the reader do next" in result.reply
    assert "Who exactly" not in result.reply  # the audience is already known


async def test_once_audience_offer_and_cta_are_known_it_proposes_a_skeleton_and_whitelisted_draft() -> None:
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    result = await chat.say(DETAILS)
    assert result.skeleton is not None
    assert result.skeleton["audience"] == "enterprise VPs of Sales"
    assert result.skeleton["cta"]["strategy"] == "Ask for a 15-minute demo"
    assert set(result.skeleton) >= {"hook", "value_prop", "proof", "cta"}
    used = set(VAR_RE.findall(f"{result.draft_subject} {result.draft_body}"))
    assert used == {"first_name", "company"}  # position is not allowed here, so it is not used
    assert "Rampwise" in result.draft_body and "15-minute demo" in result.draft_body


async def test_it_revises_the_draft_on_feedback() -> None:
    chat = Conversation()
    await chat.say(BRIEF)
    full = await chat.say(DETAILS)
    shorter = await chat.say("Make it shorter please")
    assert shorter.skeleton == full.skeleton  # the plan did not change, only the draft
    assert len(shorter.draft_body) < len(full.draft_body)
    soc2 = await chat.say("Mention our SOC 2 Type II report")
    assert soc2.skeleton["proof"]["strategy"] == "Cite: SOC 2 Type II report"
    assert "SOC 2 Type II report" in soc2.draft_body
    assert soc2.draft_body.count("\n\n") == shorter.draft_body.count("\n\n")  # still the short version


async def test_a_follow_up_acknowledges_the_prior_emails() -> None:
    sequence = SequenceContext(position=1, total_nodes=3,
                               prior_nodes=[{"type": "email", "subject": "Ramp time at %company%", "body": "Hi"}])
    chat = Conversation(sequence=sequence)
    result = await chat.say(f"{BRIEF}. {DETAILS}")
    assert "email 2 of 3" in result.reply and '"Ramp time at %company%"' in result.reply
    assert "Follow up on email 1" in result.skeleton["hook"]["strategy"]
    assert result.draft_subject.startswith("Re: ") and "Following up" in result.draft_body


async def test_examples_are_rendered_for_each_lead() -> None:
    chat = Conversation()
    await chat.say(f"{BRIEF}. {DETAILS}")
    llm = chat.llm
    for lead in LEADS:
        ctx = ExampleContext(lead=lead, skeleton=chat.skeleton, draft_subject=chat.draft[0],
                             draft_body=chat.draft[1], allowed_vars=allowed_variables(None, LEADS),
                             sequence_context=None)
        example = await llm.write_example(ctx, RecordingReporter())
        assert lead.company in example.subject and f"Hi {lead.first_name}," in example.body
        assert "%" not in example.body.replace("40%", "") and "&&" not in example.body


async def test_after_one_round_of_questions_it_drafts_with_stated_assumptions() -> None:
    chat = Conversation()
    first = await chat.say("We sell payroll software to restaurant owners")
    assert first.skeleton is None and "What should the reader do next" in first.reply
    second = await chat.say("Make it about saving four hours a week on scheduling")
    assert second.skeleton is not None and second.draft_body is not None
    assert "I assumed cta: 15-minute call" in second.reply
    assert second.skeleton["audience"] == "restaurant owners"


async def test_a_variable_the_campaign_does_not_allow_is_named_in_the_reply_not_dropped_silently() -> None:
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    result = await chat.say("add the sentence 'Teams in %city% love it.' and mention our %industry% report")
    assert "Teams in city love it." in result.draft_body and "%city%" not in result.draft_body
    assert ("Note: city and industry are not allowed variables in this campaign, so the draft does not use them "
            "(allowed: %company%, %first_name%).") in result.reply
    allowed = await chat.say("add the sentence 'Built for %company%.'")
    assert "Built for %company%." in allowed.draft_body and "not an allowed variable" not in allowed.reply


async def test_the_call_to_action_can_be_asked_as_a_question_or_more_softly() -> None:
    """"end with a question" and "make the CTA softer" were not understood; a warm tone had made the ask a
    statement with no way back to a question."""
    chat = Conversation()
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    warm = await chat.say("less salesy")
    assert last_line_before_sign_off(warm.draft_body).endswith(".")
    question = await chat.say("end with a question")
    assert "You asked for: the call to action as a question." in question.reply
    assert last_line_before_sign_off(question.draft_body) == "Would a 15-minute demo next week be helpful?"
    soft = await chat.say("the CTA is too pushy")
    ask = last_line_before_sign_off(soft.draft_body)
    assert ask.endswith("?") and "next week" not in ask and "15-minute demo" in ask
    reply = await chat.say("change the CTA to a reply")
    assert "No pressure" in last_line_before_sign_off(reply.draft_body)
    assert "a softer call to action" in reply.reply  # still applied
    plain = await chat.say("stronger CTA")
    assert last_line_before_sign_off(plain.draft_body) == ("If this sounds helpful, just reply to this email and "
                                                           "I'll gladly share more.")


async def test_the_greeting_can_be_left_out_and_brought_back() -> None:
    """"remove the greeting" once answered that no sentence had "greeting" in it, and left it there."""
    chat = Conversation()
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    assert first.draft_body.startswith("Hi %first_name%,")
    gone = await chat.say("remove the greeting")
    assert "You asked for: no greeting." in gone.reply and "- greeting removed" in gone.reply
    assert gone.draft_body == first.draft_body.removeprefix("Hi %first_name%,\n\n")
    casual = await chat.say("more casual")
    assert "Still applied from earlier turns: no greeting." in casual.reply
    assert not casual.draft_body.startswith(("Hi", "Hey"))
    back = await chat.say("add the greeting back")
    assert back.draft_body.startswith("Hey %first_name%,\n\n") and "greeting: \u201cHey %first_name%,\u201d" in back.reply


async def test_what_to_mention_in_the_opener_goes_to_the_opener_not_to_the_proof() -> None:
    """"mention our Series B in the first line" added "It is also worth mentioning our Series B in the first
    line." as a proof point; "use their company name in the first line" did the same with "our company"."""
    chat = Conversation(available=["first_name", "company", "position"])
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    topic = await chat.say("mention our Series B in the first line")
    assert "You asked for: an opener about our Series B." in topic.reply
    assert topic.draft_body.split("\n\n")[1] == "&&One sentence on why our Series B matters to %position% at %company%&&"
    assert "worth mentioning" not in topic.draft_body and len(topic.draft_body.split("\n\n")) == len(
        first.draft_body.split("\n\n"))
    named = await chat.say("use their company name in the first line")
    assert named.draft_body == topic.draft_body and "Already in place: company in the email." in named.reply
    dropped = await chat.say("don't use their company name")
    assert "%company%" not in f"{dropped.draft_subject} {dropped.draft_body}"
    back = await chat.say("use their company name again")
    assert "You asked for: company in the email." in back.reply
    assert back.draft_body == topic.draft_body and "no company" not in back.reply


async def test_a_kind_of_proof_asked_for_leaves_a_span_for_it_not_an_empty_sentence() -> None:
    """"add a testimonial" wrote "It is also worth mentioning a testimonial."; "include some numbers" was not
    understood. The offline model has none of the user's facts: the draft gets a span asking for one."""
    for message, span in (("add a testimonial", "&&One short customer quote relevant to %position% at %company%&&"),
                          ("include some numbers", "&&One customer result with a number relevant to %position% at "
                                                   "%company%&&"),
                          ("add customer logos", "&&One line naming two or three customers relevant to %position% at "
                                                 "%company%&&")):
        chat = Conversation(available=["first_name", "company", "position"])
        await chat.say(BRIEF)
        first = await chat.say(DETAILS)
        result = await chat.say(message)
        assert "worth mentioning" not in result.draft_body, message
        assert result.draft_body == first.draft_body.replace(
            "&&One customer result relevant to %position% at %company%&&", span), message


async def test_words_inside_the_offer_line_do_not_remove_it_and_words_can_be_left_out() -> None:
    """"don't mention onboarding" removed the offer line whole (what the email sells); "remove the word …" was
    not understood, and "don't say '…'" added the quoted words as a sentence."""
    chat = Conversation()
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    offer_line = "Rampwise is an onboarding platform that cuts new-rep ramp time in half."
    kept = await chat.say("don't mention onboarding")
    assert offer_line in kept.draft_body and "\u201conboarding\u201d is part of the offer line, which stays" in kept.reply
    both = await chat.say("don't mention Rampwise and make it more casual")
    assert offer_line in both.draft_body and "Changed:" in both.reply
    assert "Note: \u201cRampwise\u201d is part of the offer line" in both.reply  # said beside the other changes
    words = await chat.say("remove the word 'onboarding'")
    assert "Rampwise is a platform that cuts new-rep ramp time in half." in words.draft_body  # not "an platform"
    assert "onboarding" not in words.draft_body.lower() and "You asked for: no \u201conboarding\u201d." in words.reply
    whole = await chat.say("take out the line about Rampwise")  # the whole line, asked for as a line
    assert "Rampwise is" not in whole.draft_body and "You asked for: leave out the line about Rampwise." in whole.reply
    quoted = await chat.say('don\'t say "next week"')
    assert "next week" not in quoted.draft_body and "Next week." not in quoted.draft_body
    assert first.draft_body != quoted.draft_body


async def test_a_short_word_to_leave_out_matches_whole_words_only() -> None:
    """"don't use 'I'" removed the opener and the proof spans: "i" is in "sentence" and "relevant"."""
    chat = Conversation()
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    result = await chat.say('don\'t use "I"')
    assert result.draft_body == first.draft_body and "I found no sentence with \u201cI\u201d" in result.reply


async def test_a_term_with_a_number_is_mentioned_not_shared_as_a_result() -> None:
    chat = Conversation()
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    trial = await chat.say("add a sentence about our 14-day free trial")
    assert "It is also worth mentioning our 14-day free trial." in trial.draft_body  # was "One result worth sharing: …"
    result = await chat.say("mention 40% faster ramp for new reps")
    assert "One result worth sharing: 40% faster ramp for new reps." in result.draft_body


async def test_a_lowercase_subject_keeps_variables_and_acronyms_and_stands() -> None:
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    lower = await chat.say("make the subject lowercase")
    assert lower.draft_subject == "rampwise for %company%" and "You asked for: a lowercase subject." in lower.reply
    exact = await chat.say("subject: 'Ramp Time Halved for SOC 2 Teams, %first_name%?'")
    assert exact.draft_subject == "ramp time halved for SOC 2 teams, %first_name%?"  # acronyms, variables as written
    normal = await chat.say("capitalize the subject again")
    assert normal.draft_subject == "Ramp Time Halved for SOC 2 Teams, %first_name%?"
    assert "a lowercase subject" not in (await chat.say("more casual")).reply


async def test_without_placeholders_or_variables_the_draft_has_none() -> None:
    chat = Conversation(available=["first_name", "company", "position"])
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    plain = await chat.say("remove all placeholders")
    assert "&&" not in plain.draft_body and "Rampwise is an onboarding platform" in plain.draft_body
    none = await chat.say("don't use any variables")
    assert "%" not in f"{none.draft_subject} {none.draft_body}" and none.draft_body.startswith("Hi there,")
    back = await chat.say("use their company name again")
    assert "%company%" in back.draft_subject and "%first_name%" not in back.draft_body


async def test_dont_ask_for_a_demo_asks_for_less_and_not_as_the_opener() -> None:
    """"don't ask for a demo, just ask if they want more info" kept the demo and opened the email with "Do you
    want more info?"."""
    chat = Conversation()
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    result = await chat.say("don't ask for a demo, just ask if they want more info")
    assert "demo" not in result.draft_body and result.draft_body.split("\n\n")[1] == first.draft_body.split("\n\n")[1]
    assert "Would it help if I sent over the details?" in result.draft_body
    signed = await chat.say("sign off with just my name, Dana")
    assert signed.draft_body.endswith("\n\nDana") and "just my name" not in signed.draft_body


async def test_start_over_rewrites_the_first_draft_from_the_brief() -> None:
    """"start over" was not understood; the user had to undo each change one by one."""
    chat = Conversation()
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    await chat.say("more casual, much shorter, sign off with 'Cheers, Tom'")
    await chat.say("mention our SOC 2 report and make the subject a question")
    fresh = await chat.say("start over")
    assert "You asked for: a fresh start from your brief (every earlier change dropped)." in fresh.reply
    assert (fresh.draft_subject, fresh.draft_body) == (first.draft_subject, first.draft_body)
    assert fresh.skeleton == first.skeleton
    later = await chat.say("more formal")
    assert "Still applied" not in later.reply and "SOC 2" not in later.draft_body
    assert later.draft_body.startswith("Dear %first_name%,")


async def test_a_catchier_subject_leads_with_what_the_offer_does() -> None:
    """"make the subject more catchy" was not understood."""
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    assert first.draft_subject == "Rampwise for %company%"
    catchy = await chat.say("make the subject more catchy")
    assert catchy.draft_subject == "Cut new-rep ramp time in half at %company%"
    assert "You asked for: a catchier subject, leading with the outcome." in catchy.reply
    assert catchy.draft_body == first.draft_body
    assert (await chat.say("shorter subject")).draft_subject == "Cut new-rep ramp time in half"
    named = await chat.say("put their first name in the subject")
    assert named.draft_subject == "%first_name%, cut new-rep ramp time in half"
    later = await chat.say("more casual")
    assert "a catchier subject" in later.reply.split("Still applied from earlier turns:")[1]


async def test_a_catchier_subject_for_an_offer_that_names_no_outcome_says_what_it_needs() -> None:
    chat = Conversation(available=["first_name", "company"])
    await chat.say("Write a cold email to restaurant owners. We sell payroll software for restaurants. CTA: a call.")
    before = chat.draft
    result = await chat.say("the subject is boring")
    assert chat.draft == before and "the offer does not say what it does for the reader" in result.reply


async def test_a_variable_the_campaign_does_not_allow_asked_for_in_the_opener_is_said_so() -> None:
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    result = await chat.say("put their job title in the opener")
    assert result.draft_body == first.draft_body and "Already in place" not in result.reply
    assert "position is not an allowed variable in this campaign" in result.reply


async def test_asked_for_another_language_it_says_it_writes_english_and_keeps_the_draft() -> None:
    """"write it in German" got "I did not understand", with a list of what it can change."""
    chat = Conversation()
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    german = await chat.say("write it in German")
    assert german.draft_body == first.draft_body and "did not understand" not in german.reply
    assert german.reply.startswith("Nothing changed in the skeleton or the draft: the built-in offline model writes "
                                   "English only") and "writes it in German" in german.reply
    later = await chat.say("shorter")
    assert "German" not in later.reply  # said once, when asked


async def test_personalize_it_more_makes_the_per_lead_spans_ask_for_a_specific_detail() -> None:
    """"personalize it more" and "it feels generic" were not understood."""
    chat = Conversation()
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    result = await chat.say("it feels generic, personalize it more")
    assert "You asked for: more personalization." in result.reply and "did not" not in result.reply
    assert "specific, recent detail about" in result.draft_body
    assert "\u2026&&\u201d" in result.reply  # the long placeholder is quoted clipped, its span closed
    later = await chat.say("shorter")
    assert "Still applied from earlier turns: more personalization." in later.reply


async def test_bullet_points_list_the_value_and_proof_and_say_when_there_is_one_point() -> None:
    """"use bullet points" was not understood."""
    chat = Conversation()
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    listed = await chat.say("use bullet points")
    middle = listed.draft_body.split("\n\n")[2]
    assert middle == ("- Rampwise is an onboarding platform that cuts new-rep ramp time in half.\n"
                      "- &&One customer result relevant to %position% at %company%&&")
    assert "- bullet points: 2 lines" in listed.reply and "length:" not in listed.reply  # a dash is not a word
    assert listed.draft_body.replace(middle, middle.replace("- ", "").replace("\n", "\n\n")) == first.draft_body
    short = await chat.say("much shorter")
    assert "\n- " not in short.draft_body and "Note: there is only one point to list" in short.reply
    again = await chat.say("mention our SOC 2 report")
    assert "- I can share our SOC 2 report if it helps." in again.draft_body


async def test_the_closing_line_can_be_given_word_for_word() -> None:
    """"end with: Worth a quick chat next week?" was not understood, and in quotes it became the sign-off."""
    chat = Conversation()
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    result = await chat.say("end with 'Worth a quick chat next week?'")
    assert last_line_before_sign_off(result.draft_body) == "Worth a quick chat next week?"
    assert result.draft_body.endswith("Best regards") and result.skeleton["cta"]["strategy"] == (
        "End with the line: Worth a quick chat next week?")
    casual = await chat.say("more casual")
    assert last_line_before_sign_off(casual.draft_body) == "Worth a quick chat next week?"
    assert "Still applied from earlier turns: your closing line." in casual.reply


async def test_a_question_to_ask_opens_the_email() -> None:
    """"ask whether they use Salesforce" was not understood."""
    chat = Conversation()
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    result = await chat.say("ask whether they use Salesforce")
    assert result.draft_body.split("\n\n")[1] == "Do you use Salesforce?"
    assert "You asked for: your opening line." in result.reply


def last_line_before_sign_off(body: str | None) -> str:
    assert body is not None
    return body.split("\n\n")[-2].strip()


JARGON = ("We sell Flowly, a platform that helps finance teams leverage automation to streamline the month-end close. "
          "Audience: Heads of Finance at e-commerce companies. CTA: a 20-minute demo.")


async def test_the_call_to_action_moves_up_and_back_and_the_reply_says_it_moved() -> None:
    """"move the CTA up" was answered "I did not understand"."""
    chat = Conversation(available=["first_name", "company", "position"])
    first = await chat.say(JARGON)
    ask = "Would you be open to a 20-minute demo next week?"
    assert first.draft_body.index("Flowly is a platform") < first.draft_body.index("&&One customer result") \
        < first.draft_body.index(ask)
    up = await chat.say("move the CTA up")
    body = up.draft_body
    assert body.index("Flowly is a platform") < body.index(ask) < body.index("&&One customer result")
    assert f"moved \u201c{ask}\u201d up" in up.reply and "removed" not in up.reply and "added" not in up.reply
    shorter = await chat.say("shorter")  # no proof left between them: the ask joins the offer line
    assert f"month-end close. {ask}" in shorter.draft_body
    back = await chat.say("put the call to action back at the end")
    assert back.draft_body.rstrip().endswith(f"{ask}\n\nBest regards")
    assert "the call to action right after the offer" not in back.reply


async def test_a_more_urgent_ask_is_for_this_week_and_no_deadline_is_made_up() -> None:
    chat = Conversation(available=["first_name", "company"])
    await chat.say(JARGON)
    urgent = await chat.say("make it more urgent")
    assert "Would you be open to a 20-minute demo this week?" in urgent.draft_body
    assert "next week" not in urgent.draft_body and "I do not invent a deadline" in urgent.reply
    soft = await chat.say("make the CTA softer")  # the later request wins: a soft ask has no date
    assert "this week" not in soft.draft_body and "a more urgent ask" not in soft.reply
    reply = await chat.say("ask for a reply instead")
    again = await chat.say("add some urgency")
    assert "this week" not in again.draft_body and again.draft_body.count("reply") == reply.draft_body.count("reply")
    assert "has no date to bring forward" in again.reply


async def test_simpler_language_swaps_jargon_for_everyday_words() -> None:
    chat = Conversation(available=["first_name", "company"])
    first = await chat.say(JARGON)
    assert "leverage automation to streamline" in first.draft_body
    plain = await chat.say("simplify the language")
    assert "use automation to simplify the month-end close" in plain.draft_body
    assert "You asked for: plainer words." in plain.reply and "reworded" in plain.reply
    later = await chat.say("more casual")  # it stands
    assert "leverage" not in later.draft_body and "plainer words" in later.reply
    again = await chat.say("use simpler words")
    assert "Already in place: plainer words" in again.reply
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    await chat.say(DETAILS)
    nothing = await chat.say("simplify the language")
    assert "already uses everyday words" in nothing.reply


async def test_asked_for_a_follow_up_the_email_follows_up_and_the_reply_says_how_to_keep_the_first() -> None:
    """"write a follow-up email" was answered "I did not understand"; a session without a sequence context
    had no way to make its email a follow-up."""
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    assert not first.draft_subject.startswith("Re: ")
    follow = await chat.say("write a follow-up email")
    assert follow.draft_subject == f"Re: {first.draft_subject}"
    assert "Following up on my earlier note" in follow.draft_body and "not repeated from the earlier email" in follow.draft_body
    assert "You asked for: a follow-up email." in follow.reply and "this is not a follow-up" in follow.reply
    assert "Following up" in (await chat.say("shorter")).draft_body  # it stands
    back = await chat.say("this is not a follow-up")
    assert not back.draft_subject.startswith("Re: ") and "Following up" not in back.draft_body
    brief = await Conversation(available=["first_name", "company"]).say(
        "Write a follow-up email to CFOs at SaaS companies. We sell Ledgerly, accounting automation. CTA: a demo.")
    assert brief.draft_subject.startswith("Re: ") and "Following up" in brief.draft_body
    assert brief.reply.startswith("You asked for a follow-up") and "open a session" not in brief.reply


async def test_an_opener_that_sounds_fake_becomes_the_plain_reason_for_writing_in_the_draft_and_examples() -> None:
    """"the opener sounds fake" was answered "I did not understand"; the examples opened with a guess at the
    reader's priorities ("Time-to-ROI is probably high on your list as …")."""
    chat = Conversation(available=["first_name", "company", "position"])
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    assert "probably high on your list" in await _first_example_line(chat)
    plain = await chat.say("the opener sounds fake")
    assert "You asked for: a plainer opener" in plain.reply and "reworded" in plain.reply
    assert "no guess at their priorities" in plain.reply  # the note says what the placeholder now asks for
    hook = plain.draft_body.split("\n\n")[1]
    assert hook.startswith("&&One plain sentence on why you are writing to") and "time-to-ROI" in hook
    assert plain.draft_body.split("\n\n")[2:] == first.draft_body.split("\n\n")[2:]  # the rest as it was
    assert "said plainly" in plain.skeleton["hook"]["strategy"]
    assert await _first_example_line(chat) == "I'm writing to you as VP Sales at Acme about time-to-ROI."
    later = await chat.say("more casual")  # it stands
    assert "One plain sentence" in later.draft_body and "a plain opener" in later.reply
    own = await chat.say("first line: 'Saw your post on ramp time.'")  # a line of one's own is the user's
    assert "Saw your post on ramp time." in own.draft_body
    personal = await Conversation(available=["first_name", "company"]).say(
        f"{BRIEF}. {DETAILS} Personalize it more, and don't flatter them.")
    assert "One plain sentence on a specific, recent detail" in personal.draft_body


async def _first_example_line(chat: Conversation) -> str:
    ctx = ExampleContext(lead=LEADS[0], skeleton=chat.skeleton, draft_subject=chat.draft[0], draft_body=chat.draft[1],
                         allowed_vars=allowed_variables(None, LEADS), sequence_context=None)
    example = await chat.llm.write_example(ctx, RecordingReporter())
    return example.body.split("\n\n")[1]


async def test_a_request_with_a_long_draft_is_answered_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answering reads the draft and the message, a few microseconds a character: for a PATCHed 50,000-character
    draft, tens of milliseconds that every other turn on the worker's event loop would wait."""
    import threading

    from jobs.agent import offline

    threads: list[int] = []
    answer = offline._args

    def recording(messages: Any, info: Any) -> dict[str, Any]:
        threads.append(threading.get_ident())
        return answer(messages, info)

    monkeypatch.setattr(offline, "_args", recording)
    chat = Conversation(available=["first_name", "company"])
    await chat.say(f"{BRIEF}. {DETAILS}")
    assert threads[-1] == threading.get_ident()  # a usual request: answered in place
    chat.draft = (chat.draft[0], "Hi %first_name%,\n\n" + "We help teams ramp faster. " * 1_800)
    result = await chat.say("make it shorter")
    assert threads[-1] != threading.get_ident() and result.draft_body is not None


async def test_asked_for_subject_line_options_the_reply_offers_them_and_one_can_be_used() -> None:
    """"give me 3 subject line options" was answered "I did not understand"."""
    chat = Conversation(available=["first_name", "company"])
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    offered = await chat.say("give me 3 subject line options")
    assert offered.draft_subject == first.draft_subject and offered.draft_body == first.draft_body
    options = re.findall(r"\d\. \u201c([^\u201d]+)\u201d", offered.reply)
    assert len(options) == 3 and first.draft_subject not in options and len(set(options)) == 3
    assert "Already in place" not in offered.reply and "did not understand" not in offered.reply
    used = await chat.say(f'subject: "{options[1]}"')
    assert used.draft_subject == options[1]
    again = await chat.say("give me 3 subject line options")  # offered again, around the new subject
    assert options[1] not in re.findall(r"\d\. \u201c([^\u201d]+)\u201d", again.reply)


async def test_a_different_angle_opens_the_next_way_in_turn_and_comes_back() -> None:
    """"try a different angle" was answered "I did not understand"."""
    chat = Conversation(available=["first_name", "company", "position"])
    await chat.say(BRIEF)
    first = await chat.say(DETAILS)
    openers = []
    for _ in range(4):
        result = await chat.say("try a different angle")
        assert "You asked for: a different angle for the opener." in result.reply and "opener plan" in result.reply
        openers.append(result.draft_body.split("\n\n")[1])
    assert openers[0].endswith("?") and "&&" not in openers[0]  # a question
    assert "specific, recent detail" in openers[1] and "One plain sentence" in openers[2]
    assert openers[3] == first.draft_body.split("\n\n")[1]  # and back to the first
    own = await chat.say("first line: 'Saw your post on ramp time.'")
    kept = await chat.say("try a different angle")  # an opener the user wrote is theirs
    assert kept.draft_body == own.draft_body and "no angle of mine to change" in kept.reply
