"""The request parser: what each kind of feedback is understood as, in several phrasings each, and
how requests accumulate over a conversation into the standing requests the prompt carries."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.agent.requests import Request, Standing, parse, standing

R = Request

# message -> requests it must yield (kind, value), in order; other requests may not appear.
PHRASINGS: dict[str, list[tuple[str, list[tuple[str, object]]]]] = {
    "tone": [
        ("Make it more casual", [("tone", "casual")]),
        ("less formal please", [("tone", "casual")]),
        ("can you loosen it up a bit", [("tone", "casual")]),
        ("it reads a bit robotic", [("tone", "casual")]),
        ("write like you're talking to a friend", [("tone", "casual")]),  # once not understood
        ("make it sound like it's from a founder", [("tone", "casual"), ("tone", "direct")]),  # once not understood
        ("founder voice please", [("tone", "casual"), ("tone", "direct")]),
        ("More formal", [("tone", "formal")]),
        ("it's too casual", [("tone", "formal")]),
        ("make it sound more professional", [("tone", "formal")]),
        ("warmer", [("tone", "warm")]),
        ("make it friendlier", [("tone", "warm")]),
        ("it feels cold", [("tone", "warm")]),
        ("way too salesy", [("tone", "warm")]),
        ("more direct", [("tone", "direct")]),
        ("get to the point", [("tone", "direct")]),
        ("cut the fluff", [("tone", "direct")]),
        ("punchier", [("tone", "direct")]),
        ("back to the normal tone", [("tone", "neutral")]),
        ("can you make it sound more like a peer than a vendor", [("tone", "casual")]),  # once not understood
    ],
    "length": [
        ("Make it shorter", [("shorter", 1)]),
        ("make the body shorter but keep the subject", [("shorter", 1)]),  # once "did not act on … keep the subject"
        ("shorter, keep everything else the same", [("shorter", 1)]),
        ("too long", [("shorter", 1)]),
        ("trim it down a little", [("shorter", 1)]),
        ("more concise please", [("shorter", 1)]),
        ("much shorter", [("shorter", 2)]),
        ("cut it in half", [("shorter", 2)]),
        ("under 80 words", [("max_words", 79)]),
        ("keep it to 60 words", [("max_words", 60)]),
        ("no more than 90 words", [("max_words", 90)]),
        ("80 words max", [("max_words", 80)]),
        ("120-word limit", [("max_words", 120)]),
        ("one paragraph", [("one_paragraph", True)]),
        ("put it all in a single paragraph", [("one_paragraph", True)]),
        ("no paragraph breaks", [("one_paragraph", True)]),
        ("make it longer", [("longer", 1)]),
        ("add more detail", [("longer", 1)]),
        ("can we make it shorter?", [("shorter", 1)]),  # once also the offer "it"
        ("say it in fewer words", [("shorter", 1)]),  # once the proof point "it in fewer words"
    ],
    "sign-off and signature": [
        ("sign off with 'Cheers, Tom'", [("sign_off", "Cheers"), ("signature", "Tom")]),
        ("Sign off with \u201cBest, Priya\u201d", [("sign_off", "Best"), ("signature", "Priya")]),
        ("end with Best, Tom", [("sign_off", "Best"), ("signature", "Tom")]),
        ("close with 'Talk soon'", [("sign_off", "Talk soon")]),
        ("change the sign-off to Warmly", [("sign_off", "Warmly")]),
        ("use 'Thanks' as the sign-off", [("sign_off", "Thanks")]),
        ("replace 'Best regards' with 'Cheers'", [("sign_off", "Cheers")]),
        ("sign it Tom", [("signature", "Tom")]),
        ("sign it Sam from Deployly", [("signature", "Sam from Deployly")]),  # once not understood
        ("sign it tom", [("signature", "Tom")]),
        ("sign it as Tom Baker, Head of Growth", [("signature", "Tom Baker, Head of Growth")]),
        ("Signature: Priya", [("signature", "Priya")]),
        ("my name is Priya Shah", [("signature", "Priya Shah")]),
        ("Swap the sign-off for 'Thanks, Priya'", [("sign_off", "Thanks"), ("signature", "Priya")]),
        ("sign off with just my name, Dana", [("sign_off", ""), ("signature", "Dana")]),  # was the sign-off "just my …"
        ("switch my sign off to Best, Ana", [("sign_off", "Best"), ("signature", "Ana")]),  # not "to Be" + "st"
    ],
    "opener": [
        ("Open with peak-season hiring", [("opener", "peak-season hiring")]),
        ("lead with their recent funding round", [("opener", "their recent funding round")]),
        ("the hook should be about onboarding costs", [("opener", "onboarding costs")]),
        ("make the opener about Q4 quotas", [("opener", "Q4 quotas")]),
        ("use peak season as the hook", [("opener", "peak season")]),
        ("kick it off by mentioning their growth", [("opener", "their growth")]),
        ("start with a question about their hiring plans", [("opener_question", True), ("opener", "their hiring plans")]),
        ("open with a question", [("opener_question", True)]),
        ("can we make the opener about their Q4 close?", [("opener", "their Q4 close")]),  # once also the offer "?"
        ("rewrite the opener to reference their recent funding", [("opener", "their recent funding")]),  # not "reference …"
        ("first line: 'Saw your post about ramp time.'", [("opener_exact", "Saw your post about ramp time.")]),
    ],
    "what the opener mentions": [  # once a fact for the proof: "It is also worth mentioning our company in the opener."
        ("mention our Series B in the first line", [("opener", "our Series B")]),
        ("include the new warehouse in the intro", [("opener", "new warehouse")]),
        ("mention %company% in the opener", [("variable", "%company%")]),
        ("use their company name in the first line", [("variable", "%company%")]),
        ("put their job title in the opener", [("variable", "%position%")]),
        ("open with %company%", [("variable", "%company%")]),  # once "an opener about company"
        ("use their first name in the first line", [("variable", "%first_name%"), ("greeting", True)]),
        ("start with their first name", [("variable", "%first_name%"), ("greeting", True)]),
    ],
    "a variable left out, wanted again": [
        ("use their company name again", [("variable", "%company%")]),
        ("bring %first_name% back", [("variable", "%first_name%")]),
        ("put their job title back", [("variable", "%position%")]),
        ("ok, use the company again", [("variable", "%company%")]),
        ("bring back their company name", [("variable", "%company%")]),
    ],
    "opener as a question to ask": [  # once not understood
        ("ask about their current tool", [("opener_question", True), ("opener", "their current tool")]),
        ("ask them how they onboard new reps today", [("opener_exact", "How do you onboard new reps today?")]),
        ("ask whether they use Salesforce", [("opener_exact", "Do you use Salesforce?")]),
        ("ask if they're hiring SDRs this quarter", [("opener_exact", "Are you hiring SDRs this quarter?")]),
        ("Ask for a 20-minute call and ask if they are hiring",
         [("cta", "20-minute call"), ("opener_exact", "Are you hiring?")]),  # the call is still the ask
    ],
    "subject": [
        ("make the subject a question", [("subject_style", "question")]),
        ("turn the subject line into a question", [("subject_style", "question")]),
        ("question subject line please", [("subject_style", "question")]),
        ("shorter subject", [("subject_short", True)]),
        ("use their first name in the subject and keep it under 40 characters",
         [("subject_include", "%first_name%"), ("subject_short", True)]),  # "under 40 characters" was not acted on
        ("the subject is too long", [("subject_short", True)]),
        ("make the subject line punchier", [("subject_short", True)]),
        ("put Rampwise in the subject", [("subject_include", "Rampwise")]),
        ("the subject should mention ramp time", [("subject_include", "ramp time")]),
        ("include their first name in the subject", [("subject_include", "%first_name%")]),
        ("add the company name to the subject", [("subject_include", "%company%")]),
        ("no variables in the subject", [("subject_exclude", "variables")]),
        ("don't personalize the subject", [("subject_exclude", "variables")]),
        ("keep the subject generic", [("subject_exclude", "variables")]),
        ("remove %company% from the subject", [("subject_exclude", "%company%")]),
        ("subject: 'Ramp time, halved'", [("subject_exact", "Ramp time, halved")]),
        ("change the subject to Faster onboarding for your reps", [("subject_exact", "Faster onboarding for your reps")]),
        ("use 'Quick question' as the subject", [("subject_exact", "Quick question")]),
    ],
    "start over": [  # once not understood
        ("start over", [("start_over", True)]),
        ("let's start from scratch", [("start_over", True)]),
        ("scrap it and start over", [("start_over", True)]),
        ("forget my earlier changes", [("start_over", True)]),
        ("start over: we now sell payroll software to CFOs",
         [("start_over", True), ("offer", "payroll software to CFOs"), ("audience", "CFOs")]),
    ],
    "a lowercase subject": [  # "make the subject lowercase" was the subject "lowercase"
        ("make the subject lowercase", [("subject_lower", True)]),
        ("lowercase subject line please", [("subject_lower", True)]),
        ("put the subject in lower case", [("subject_lower", True)]),
        ("capitalize the subject again", [("subject_lower", False)]),
    ],
    "a catchier subject": [  # once not understood; "make the subject pop" was the subject "pop"
        ("make the subject more catchy", [("subject_style", "hook")]),
        # other subject lines, offered in the reply (once not understood)
        ("give me 3 subject line options", [("subject_options", 3)]),
        ("suggest a few subject lines", [("subject_options", 3)]),
        ("show me 5 other subject lines and make it shorter", [("subject_options", 5), ("shorter", 1)]),
        ("I want to A/B test the subject line", [("subject_options", 3)]),
        ("give me other subjects", [("subject_options", 3)]),  # the plural was missed
        # once the subject "curiosity-driven", word for word
        ("make the subject line curiosity-driven", [("subject_style", "hook")]),
        ("catchier subject please", [("subject_style", "hook")]),
        ("the subject line is boring", [("subject_style", "hook")]),
        ("make the subject pop", [("subject_style", "hook")]),
        ("the subject should grab their attention", [("subject_style", "hook")]),
        ("improve the subject", [("subject_style", "hook")]),
        ("lead with the benefit in the subject", [("subject_style", "hook")]),  # was an opener "the benefit in …"
        ("a more compelling subject line and make it shorter", [("subject_style", "hook"), ("shorter", 1)]),
    ],
    "proof point, case study, P.S., sentence": [
        ("Mention our SOC 2 Type II report", [("mention", "SOC 2 Type II report")]),
        ("can you also mention our 24/7 support", [("mention", "24/7 support")]),
        ("cite the Gartner report", [("mention", "Gartner report")]),
        ("add our case study with DHL", [("mention", "case study with DHL")]),
        ("include the DHL case study", [("mention", "DHL case study")]),
        ("case study: Acme cut ramp time by 40%", [("mention", "Acme cut ramp time by 40%")]),
        ("highlight that we integrate with Salesforce", [("mention", "we integrate with Salesforce")]),
        ("Can we mention that we're SOC 2 compliant?", [("mention", "we're SOC 2 compliant")]),  # once not understood
        ("add that it starts at $49/month", [("mention", "it starts at $49/month")]),  # once declined as "say it …"
        # once "they cut ramp time by 40%" as the fact, and "use the Acme" not understood
        ("use the Acme case study: they cut ramp time by 40%", [("mention", "Acme cut ramp time by 40%")]),
        ("change the subject to something about ramp time", [("subject_include", "ramp time")]),  # once its text
        ("add a P.S. about our free pilot", [("ps", "about:our free pilot")]),
        ("end with a P.S. mentioning the webinar", [("ps", "about:the webinar")]),
        ("P.S.: we're at SaaStr next week", [("ps", "we're at SaaStr next week")]),
        ("add a PS saying 'We are at SaaStr next week'", [("ps", "We are at SaaStr next week")]),
        ("add a p.s.", [("ps", "about:")]),
        ("add the sentence 'We work with 40 enterprise teams.'", [("sentence", "We work with 40 enterprise teams.")]),
        ("include 'No long contracts.'", [("sentence", "No long contracts.")]),
        ("add this line: 'Setup takes one afternoon.'", [("sentence", "Setup takes one afternoon.")]),
        # the words after "a deadline:" / "a line:" are the sentence (once "It is also worth mentioning a deadline: …")
        ("add a deadline: offer ends Friday", [("sentence", "Offer ends Friday")]),
        ("add a line: setup takes one afternoon. And make it shorter",
         [("sentence", "Setup takes one afternoon"), ("shorter", 1)]),
        ("change 'next week' to 'this month'", [("replace", ("next week", "this month"))]),
        ("add social proof", [("mention", "social proof")]),  # a kind of proof: the draft leaves a span for it
        ("include some numbers", [("mention", "some numbers")]),  # once not understood
        ("add more proof", [("mention", "more proof")]),
        ("add a line about pricing at the end", [("mention", "pricing")]),  # mentions go before the ask anyway
        ("add a line about our Shopify integration before the CTA", [("mention", "Shopify integration")]),
    ],
    "every placeholder or every variable out": [  # once "I found no sentence with 'placeholders'"
        ("remove all placeholders", [("remove", "placeholders")]),
        ("don't use any variables", [("remove", "variables")]),
        ("no merge fields please", [("remove", "merge fields")]),
    ],
    "words out, wherever they stand": [  # once not understood; "don't say 'X'" added the sentence "X."
        ("remove the word 'automation'", [("replace", ("automation", ""))]),
        # named as a word, unquoted (once not understood)
        ("avoid the word free", [("replace", ("free", ""))]),
        ("don't use the word synergy and make it shorter", [("replace", ("synergy", "")), ("shorter", 1)]),
        ("avoid saying 'touch base'", [("replace", ("touch base", ""))]),
        ("I don't like the word 'streamline'", [("replace", ("streamline", ""))]),
        ('don\'t say "touch base"', [("replace", ("touch base", ""))]),
        ("don't use the word 'synergy'", [("replace", ("synergy", ""))]),
        ("drop the phrase 'next week'", [("replace", ("next week", ""))]),
    ],
    "removals": [
        ("remove the P.S.", [("remove", "P.S")]),
        ("no more P.S.", [("remove", "P.S.")]),
        ("drop the case study", [("remove", "case study")]),
        ("don't mention SOC 2", [("remove", "SOC 2")]),
        ("stop mentioning the webinar", [("remove", "webinar")]),
        ("take out the line about ramp time", [("remove", "line about ramp time")]),  # a whole line
        ("delete the sentence about DHL", [("remove", "line about DHL")]),
        ("get rid of the signature", [("remove", "signature")]),
        ("lose the opener", [("remove", "opener")]),
        ("remove the proof point", [("remove", "proof point")]),
        ("Actually drop the DHL case study", [("remove", "DHL case study")]),
        ("I'd rather not mention pricing", [("remove", "pricing")]),  # once not understood
        ("OK lose the P.S.", [("remove", "P.S")]),
        ("Take the case study out", [("remove", "case study")]),
        ("Leave the P.S. out please", [("remove", "P.S.")]),
        ("I don't want the P.S.", [("remove", "P.S")]),
        ("No need for the Salesforce line", [("remove", "Salesforce line")]),
        ("Don't mention SOC 2 anymore", [("remove", "SOC 2")]),
        # two things at once: once one target "signature and the proof" that matched no sentence
        ("remove the signature and the proof", [("remove", "signature"), ("remove", "proof")]),
        ("remove the P.S. and the proof", [("remove", "P.S"), ("remove", "proof")]),  # "and the proof" was dropped
        ("delete the line about DHL and the P.S.", [("remove", "line about DHL"), ("remove", "P.S")]),
        ("remove the line about sales and marketing", [("remove", "line about sales and marketing")]),  # one target
    ],
    "greeting": [  # leaving it out is a removal of the greeting; bringing it back its own request
        ("remove the greeting", [("remove", "greeting")]),
        ("no greeting", [("remove", "greeting")]),
        ("write it without a greeting", [("remove", "greeting")]),
        ("skip the salutation", [("remove", "salutation")]),
        ("get rid of the Hi line", [("remove", "Hi line")]),
        ("add the greeting back", [("greeting", True)]),
        ("bring back the greeting", [("greeting", True)]),
        ("start with a greeting", [("greeting", True)]),  # once an opener "about a greeting"
    ],
    "bullet points": [
        ("use bullet points", [("bullets", True)]),
        ("put the benefits in bullets", [("bullets", True)]),
        ("format it as a bulleted list", [("bullets", True)]),
        ("make it a list", [("bullets", True)]),
        ("no bullets", [("bullets", False)]),
        ("back to prose", [("bullets", False)]),
    ],
    "personalization": [
        ("personalize it more", [("personal", True)]),
        ("make it more personal", [("personal", True)]),
        ("it feels generic", [("personal", True)]),
        ("tailor it to each lead", [("personal", True)]),
        ("add some personalization", [("personal", True)]),
        ("less personalized", [("personal", False)]),
    ],
    "language": [  # the offline model says it writes English only; the request stands for hosted models
        ("write it in German", [("language", "German")]),
        ("in Spanish please", [("language", "Spanish")]),
        ("translate it to French", [("language", "French")]),
        ("can you rewrite the email in Dutch?", [("language", "Dutch")]),
        ("back to English", [("language", "English")]),
    ],
    "closing line": [  # word for word; once a sign-off ("Worth a quick chat next week?" signed the email) or nothing
        ("end with: Worth a chat?", [("cta_exact", "Worth a chat?")]),
        ("end with 'Worth a quick chat next week?'", [("cta_exact", "Worth a quick chat next week?")]),
        ('CTA: "Open to a 10-minute call on Thursday?"', [("cta_exact", "Open to a 10-minute call on Thursday?")]),
        ("close with: Happy to send a one-pager if useful.", [("cta_exact", "Happy to send a one-pager if useful.")]),
        ("end with 'Cheers, Tom'", [("sign_off", "Cheers"), ("signature", "Tom")]),  # still a sign-off
    ],
    "call to action": [
        ("ask for a call instead", [("cta", "call")]),
        ("change the CTA to a reply", [("cta", "reply")]),
        ("just ask them to reply", [("cta", "reply")]),
        ("make the ask a reply", [("cta", "reply")]),
        ("CTA: 20-minute demo", [("cta", "20-minute demo")]),
        ("offer a demo", [("cta", "demo")]),
        ("ask them to book a walkthrough", [("cta", "demo")]),
        ("instead of a demo, ask for a quick call", [("cta", "quick call")]),
        ("ask for half an hour on the phone", [("cta", "30-minute call")]),
        ("end with a link to my calendar https://cal.com/tom", [("cta", "link"), ("link", "https://cal.com/tom")]),
        ("point them to https://rampwise.io/book", [("cta", "link"), ("link", "https://rampwise.io/book")]),
        ("include my booking link", [("cta", "link")]),
        ("Want a 20-min call.", [("cta", "20-minute call")]),
        ("we would like a reply", [("cta", "reply")]),
    ],
    "how the call to action asks": [
        ("end with a question", [("cta_style", "question")]),
        ("make the CTA a yes/no question", [("cta_style", "question")]),  # once not understood
        ("make the call to action a question", [("cta_style", "question")]),
        ("the CTA should be a question", [("cta_style", "question")]),
        ("change the demo to a 15-minute call", [("cta", "15-minute call")]),  # once not understood
        ("change the CTA to a free audit", [("cta", "free audit")]),  # once not understood
        ("ask for a free assessment instead", [("cta", "free assessment")]),
        ("replace the demo with a quick chat", [("cta", "quick chat")]),
        # "don't ask for a demo" was the demo (read from the brief's "ask for a demo"), and "ask if they want more
        # info" opened the email with "Do you want more info?"
        ("don't ask for a demo, just ask if they want more info",
         [("cta", "reply"), ("cta", "reply"), ("cta_style", "question")]),
        ("don't push for a call", [("cta", "reply")]),
        ("ask if they would like a demo", [("cta", "demo"), ("cta_style", "question")]),
        ("make it more concise and add a question at the end", [("shorter", 1), ("cta_style", "question")]),
        ("make the CTA softer", [("cta_style", "soft")]),
        ("softer CTA please", [("cta_style", "soft")]),
        ("the CTA is too pushy", [("cta_style", "soft")]),  # the ask, not the tone
        ("the CTA feels pushy", [("cta_style", "soft")]),  # once a warmer tone
        ("ask if they'd be open to learning more", [("cta", "reply"), ("cta_style", "question")]),
        ("use a low-pressure ask", [("cta_style", "soft")]),
        ("stronger CTA", [("cta_style", "")]),
        ("end with a 15-minute call", [("cta", "15-minute call")]),  # a kind of ask, not a question
    ],
    "where the call to action stands": [  # once not understood
        ("move the CTA up", [("cta_early", True)]),
        ("put the call to action earlier", [("cta_early", True)]),
        ("the ask comes too late", [("cta_early", True)]),
        ("lead with the ask", [("cta_early", True)]),  # once the opener "about the ask"
        ("move the CTA back to the end", [("cta_early", False)]),
        ("put the call to action back at the end", [("cta_early", False)]),
    ],
    "urgency": [  # once not understood ("add urgency" was deliberately nothing)
        ("make it more urgent", [("urgency", True)]),
        ("add some urgency", [("urgency", True)]),
        ("add urgency", [("urgency", True)]),
        ("create a sense of urgency", [("urgency", True)]),
        ("it needs more urgency", [("urgency", True)]),
        ("less urgent please", [("urgency", False)]),
        ("make the CTA more urgent and shorter", [("urgency", True), ("shorter", 1)]),
    ],
    "a follow-up": [  # once not understood
        ("write a follow-up email", [("follow_up", True)]),
        ("make this a follow-up", [("follow_up", True)]),
        ("turn it into a follow-up", [("follow_up", True)]),
        ("this is the second email in the sequence", [("follow_up", True)]),
        ("this is not a follow-up", [("follow_up", False)]),
    ],
    "plain words": [  # once not understood
        ("simplify the language", [("plain", True)]),
        ("use simpler words", [("plain", True)]),
        ("use plain English", [("plain", True)]),
        ("make it easier to read", [("plain", True)]),
        ("dumb it down a bit", [("plain", True)]),
        ("the language is too complicated", [("plain", True)]),
        ("no jargon", [("plain", True)]),  # once a more direct tone
        ("avoid jargon", [("plain", True)]),  # once not understood
        ("cut the buzzwords and shorten it", [("plain", True), ("shorter", 1)]),  # once a removal of "buzzwords"
    ],
    "a plainer opener": [  # once not understood ("the opener sounds fake")
        ("the opener sounds fake", [("opener_plain", True)]),
        ("the first line feels forced", [("opener_plain", True)]),
        ("The intro is a bit cheesy", [("opener_plain", True)]),
        ("make the opener more genuine", [("opener_plain", True)]),
        ("a more natural opening line please", [("opener_plain", True)]),
        ("don't flatter them", [("opener_plain", True)]),
        ("no flattery", [("opener_plain", True)]),
        ("stop pretending we know them", [("opener_plain", True)]),
        ("the hook feels way too forced, and make it shorter", [("opener_plain", True), ("shorter", 1)]),
        # the next way to open, in turn (once not understood)
        ("try a different angle", [("angle", True)]),
        ("can we try another approach?", [("angle", True)]),
        ("take a fresh angle for the opener and make it shorter", [("angle", True), ("shorter", 1)]),
        # a compliment is a line about something real of theirs (once "It is also worth mentioning a compliment …")
        ("add a compliment about their company", [("personal", True), ("opener_plain", False)]),
        ("add some praise for their launch", [("personal", True), ("opener_plain", False)]),
    ],
    "audience and offer": [
        ("change the audience to CFOs at fintech startups", [("audience", "CFOs at fintech startups")]),
        ("target HR directors instead", [("audience", "HR directors")]),
        ("audience: founders of seed-stage startups", [("audience", "founders of seed-stage startups")]),
        ("write it for heads of customer success", [("audience", "heads of customer success")]),
        ("change the offer to Rampwise Coach, an AI tutor for new reps",
         [("offer", "Rampwise Coach, an AI tutor for new reps")]),
        ("we now sell payroll audits", [("offer", "payroll audits")]),
        ("offer: a free ramp-time audit", [("offer", "a free ramp-time audit")]),
        ("focus on the ROI", [("focus", "ROI")]),
        # a new offer that says who uses it keeps the audience; one sold "to" someone names a new audience
        ("Actually we now sell Rampwise Coach, an AI tutor for new reps",
         [("offer", "Rampwise Coach, an AI tutor for new reps")]),
        ("we now sell Shiftly Pro to HR directors at hotels",
         [("offer", "Shiftly Pro to HR directors at hotels"), ("audience", "HR directors at hotels")]),
        # the product an email is about (once not understood: the model asked what we sell, then drafted
        # "We offer write a cold email to CFOs…")
        ("Write a cold email to CFOs at logistics companies about Ledgerly, our spend management tool for fleets",
         [("offer", "Ledgerly, our spend management tool for fleets"), ("audience", "CFOs at logistics companies")]),
        ("draft an email for HR leaders about our onboarding platform",
         [("offer", "our onboarding platform"), ("audience", "HR leaders")]),
        # first messages a new user typed, once read as nothing or as the wrong thing
        ("Email to school principals", [("audience", "school principals")]),  # once "school"
        ("Target: heads of engineering at Series B startups", [("audience", "heads of engineering at Series B startups")]),
        ("Product: Deployly, one-click rollbacks", [("offer", "Deployly, one-click rollbacks")]),
        ("cold email for plumbers about our booking software that cuts no-shows by 40%, cta reply",
         [("offer", "our booking software that cuts no-shows by 40%"), ("audience", "plumbers"), ("cta", "reply")]),
        ("I need an email to HR directors at hospitals pitching NurseShift, which fills open shifts in hours",
         [("audience", "HR directors at hospitals"), ("offer", "NurseShift, which fills open shifts in hours")]),
    ],
    "compound": [
        ("shorter and more casual, sign it Tom", [("shorter", 1), ("tone", "casual"), ("signature", "Tom")]),
        ("Make it warmer, under 90 words, and open with peak-season hiring",
         [("tone", "warm"), ("max_words", 89), ("opener", "peak-season hiring")]),
        ("more formal; make the subject a question; remove the P.S.",
         [("tone", "formal"), ("subject_style", "question"), ("remove", "P.S")]),
        ("Mention SOC 2 and ask them to reply", [("mention", "SOC 2"), ("cta", "reply")]),
        ("it's too stiff, and don't mention SOC 2", [("tone", "casual"), ("remove", "SOC 2")]),
        ("Can you make the opening line less salesy and more about their quarter?",
         [("opener", "their quarter"), ("tone", "warm")]),
    ],
    "a first brief": [
        ("Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI",
         [("audience", "enterprise VPs of Sales"), ("focus", "time-to-ROI")]),
        ("We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo.",
         [("offer", "Rampwise, an onboarding platform that cuts new-rep ramp time in half"), ("cta", "15-minute demo")]),
        ("VPs of Sales at SaaS companies; offer: 15 minutes to ROI; CTA: a call",
         [("audience", "VPs of Sales at SaaS companies"), ("offer", "15 minutes to ROI"), ("cta", "call")]),
        ("We sell payroll software to restaurant owners",
         [("offer", "payroll software to restaurant owners"), ("audience", "restaurant owners")]),
        ("email to restaurant owners, we help them cut food waste by 30%, want a demo",  # the ask was in the offer
         [("audience", "restaurant owners"), ("offer", "we help them cut food waste by 30%"), ("cta", "demo")]),
        ("We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half, to enterprise VPs of Sales.",
         [("offer", "Rampwise, an onboarding platform that cuts new-rep ramp time in half"),
          ("audience", "enterprise VPs of Sales")]),
    ],
}
CASES = [(kind, message, expected) for kind, rows in PHRASINGS.items() for message, expected in rows]


@pytest.mark.parametrize(("kind", "message", "expected"), CASES, ids=[f"{k}: {m}" for k, m, _ in CASES])
def test_each_kind_of_feedback_is_understood_in_several_phrasings(kind: str, message: str,
                                                                  expected: list[tuple[str, object]]) -> None:
    parsed = parse(message)
    assert [(r.kind, r.value) for r in parsed.requests] == expected
    assert parsed.unmatched == ""


def test_every_kind_has_at_least_three_phrasings() -> None:
    groups = {"tone": {"casual", "formal", "warm", "direct"}}
    for kind, rows in PHRASINGS.items():
        assert len(rows) >= 3, kind
    for tone in groups["tone"]:
        assert sum(("tone", tone) in expected for _, expected in PHRASINGS["tone"]) >= 3, tone


@pytest.mark.parametrize("message", ["make it pop", "Looks great, thanks!", "hmm, not sure about the vibe here",
                                     "Can you add some sparkle?",
                                     "We want to follow up on the call we had last week",  # asks for no call
                                     "stop pitching so hard",  # not an offer called "so hard"
                                     "it sounds like we are pitching too much",
                                     "Write an intro email about saving 4 hours a week",  # a theme, not a product
                                     "the Spanish one was better", "our German customers love it",  # no language asked
                                     "be more specific about the offer",  # not about the lead
                                     "add emojis", "add some humor",  # how to write, not facts
                                     "add back the sign-off",
                                     "can you add their job title to the greeting",
                                     "add my title: Head of Growth",  # once the subject "Head of Growth"
                                     "add their company name to it",  # which "it"? (once a fact to mention)
                                     "our founder built Rampwise",  # a fact about the sender, not a voice
                                     "we take a different approach to onboarding",  # a fact, not "a different angle"
                                     "we don't offer a free trial"])  # a fact, not the ask (was the CTA "free trial")  # once "It is also worth …"  # once a proof point "back the sign-off"
def test_what_is_not_understood_yields_no_request(message: str) -> None:
    assert parse(message).requests == ()


def test_feedback_about_the_draft_does_not_change_the_offer() -> None:
    """"the email about Rampwise is too long" once made "Rampwise is" the offer."""
    for message in ("the email about Rampwise is too long", "write the email about our pilot results, shorter"):
        assert [(r.kind, r.value) for r in parse(message).requests] == [("shorter", 1)]


def test_the_part_of_a_message_that_was_not_understood_is_reported() -> None:
    parsed = parse("Make it shorter and give it more pizzazz somehow")
    assert [r.kind for r in parsed.requests] == ["shorter"]
    assert "pizzazz" in parsed.unmatched


def test_words_that_look_like_requests_inside_a_brief_are_not_misread() -> None:
    assert "tone" not in [r.kind for r in parse("We sell to professional services firms").requests]
    assert "tone" not in [r.kind for r in parse("Our tool cuts onboarding time for direct sales teams").requests]
    assert "remove" not in [r.kind for r in parse("We help teams cut onboarding time").requests]


def test_later_requests_replace_earlier_ones_and_lists_grow() -> None:
    state = standing(["more casual", "sign off with 'Cheers, Tom'", "Mention our SOC 2 report", "add our case study "
                      "with DHL", "under 80 words", "more formal", "sign it Priya", "no word limit"])
    assert state.register == "formal"  # the later tone wins
    assert (state.sign_off, state.signature) == ("Cheers", "Priya")  # the sign-off stays, the name changed
    assert state.mentions == ("SOC 2 report", "case study with DHL")
    assert state.max_words is None


def test_removals_take_things_back_out_and_a_later_ask_brings_them_back() -> None:
    state = standing(["Mention our SOC 2 report", "add a P.S. about our pilot", "don't mention SOC 2", "drop the P.S."])
    assert state.mentions == () and state.ps == ""
    assert standing(["remove the proof point", "add our case study with DHL"]).mentions == ("case study with DHL",)
    assert "proof" not in standing(["remove the proof point", "add our case study with DHL"]).removed
    # a removal names what it takes out in fewer (or other) words than the request that put it in
    assert standing(["Mention our SOC 2 Type II report", "drop the SOC 2 report"]).mentions == ()
    assert standing(["add our case study with DHL", "Actually drop the DHL case study"]).mentions == ()
    assert standing(["Mention our SOC 2 report", "drop the Gartner report"]).mentions == ("SOC 2 report",)
    assert standing(["Highlight that we integrate with Salesforce",
                     "Remove the Salesforce line from the email"]).mentions == ()
    unknown = standing(["take out the line about ramp time"])
    assert unknown.removed == ("line about ramp time",)
    assert standing(["Mention our SOC 2 report", "delete the line about SOC 2"]).mentions == ()


@pytest.mark.parametrize("message", [
    "don't mention the company name anywhere", "don't use %company%", "remove %company% from the email",
    "stop using their company name", "leave out the company name in the email or subject",
])
def test_leaving_out_a_variable_leaves_out_the_variable_not_the_sentences(message: str) -> None:
    """It once took out every sentence that used it (and kept it in the subject), or understood nothing."""
    state = standing(["Mention our SOC 2 report", "put their company in the subject", message])
    assert (state.no_vars, state.removed, state.mentions) == (("company",), (), ("SOC 2 report",))
    assert "%company%" not in state.subject_include
    again = standing([message, "put their company in the subject"])
    assert again.no_vars == () and again.subject_include == ("%company%",)  # asked for again: back


@pytest.mark.parametrize("message", ["remove the greeting", "no greeting please", "drop the greeting line",
                                     "skip the salutation", "get rid of the Hi line", "remove 'Hi %first_name%,'"])
def test_leaving_out_the_greeting_leaves_out_the_greeting_line_only(message: str) -> None:
    """"remove the greeting" found no sentence with "greeting" and changed nothing."""
    state = standing(["Mention our SOC 2 report", message])
    assert (state.no_greeting, state.removed, state.mentions) == (True, (), ("SOC 2 report",))
    assert "greeting: none" in state.lines() and Standing.from_lines(state.lines()) == state
    assert standing([message, "add the greeting back"]).no_greeting is False


def test_a_language_in_the_brief_leaves_the_brief_whole() -> None:
    state = standing(["Write a cold email in German to CFOs at logistics companies about Ledgerly, our spend "
                      "management tool for fleets. We want them to book a 20-minute call."])
    assert (state.language, state.audience, state.offer, state.cta) == (
        "German", "CFOs at logistics companies", "Ledgerly, our spend management tool for fleets", "20-minute call")
    assert standing(["We sell German beer to bars"]).language is None  # a word, not a request
    assert "language: German" in state.lines() and Standing.from_lines(state.lines()) == state
    assert standing(["write it in German", "back to English"]).language is None


def test_bullets_and_one_paragraph_replace_each_other() -> None:
    assert standing(["one paragraph", "use bullet points"]).lines()[-1:] == ["format: bullet points"]
    assert not standing(["use bullet points", "one paragraph"]).bullets
    for removal in ("remove the bullet points", "drop the bullets", "lose the bullet list"):
        assert standing(["use bullet points", removal]) == Standing()  # not a sentence to look for
    state = standing(["use bullet points"])
    assert Standing.from_lines(state.lines()) == state
    assert parse("it's high on your list").requests == () and parse("add a list of our integrations").requests[0].kind \
        == "mention"  # a list as a thing to mention is not the format


def test_a_closing_line_stands_until_another_ask_replaces_it() -> None:
    state = standing(["end with: Worth a quick chat next week?", "more casual"])
    assert state.cta_exact == "Worth a quick chat next week?" and Standing.from_lines(state.lines()) == state
    assert standing(["end with: Worth a quick chat next week?", "ask for a demo instead"]).cta_exact is None
    assert standing(["end with: Worth a quick chat next week?", "softer CTA"]).cta_exact is None


def test_starting_over_keeps_the_brief_and_drops_every_change_asked_for() -> None:
    brief = ["Write an intro email for enterprise VPs of Sales",
             "We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo."]
    changed = standing(brief + ["more casual, much shorter", "mention our SOC 2 report", "write it in German",
                                "don't use their company name", "ask for a call instead"])
    fresh = standing(brief + ["more casual, much shorter", "mention our SOC 2 report", "write it in German",
                              "don't use their company name", "ask for a call instead", "start over"])
    assert fresh == Standing(audience=changed.audience, offer=changed.offer, cta="call")
    assert Standing.from_lines(fresh.lines()) == fresh
    assert standing(["start over", "more formal"]).tones == ["formal"]  # asks after it stand as usual
    assert parse("we help teams start over after layoffs").requests[0].kind == "offer"  # not a request to us


def test_a_catchier_subject_stands_round_trips_and_gives_way_to_another_style() -> None:
    state = standing(["make the subject more catchy", "more casual"])
    assert state.subject_style == "hook" and "subject: catchier, leading with what the offer does for the reader" \
        in state.lines()
    assert Standing.from_lines(state.lines()) == state
    assert standing(["make the subject more catchy", "make the subject a question"]).subject_style == "question"
    assert parse("the subject is fine but the opener is boring").requests == ()  # not about the subject


def test_personalization_stands_and_round_trips() -> None:
    state = standing(["more casual", "personalize it more", "shorter"])
    assert state.personal and "personalization: more" in state.lines()
    assert Standing.from_lines(state.lines()) == state
    assert not standing(["too generic", "less personalized"]).personal
    assert not standing(["We tailor suits for lawyers", "we personalize onboarding for new hires"]).personal  # offers


def test_shorter_and_longer_count_steps() -> None:
    assert standing(["shorter", "even shorter please"]).shorter == 2
    assert standing(["shorter", "shorter", "shorter", "shorter"]).shorter == 3  # capped
    assert standing(["much shorter", "longer"]).shorter == 1


def test_tone_axes_combine_and_opposites_replace() -> None:
    state = standing(["more casual", "warmer"])
    assert state.tones == ["casual", "warm"]
    assert standing(["more casual", "warmer", "more direct"]).tones == ["casual", "direct"]
    assert standing(["more casual", "warmer", "neutral tone"]).tones == []


def test_the_standing_requests_round_trip_through_their_prompt_lines() -> None:
    state = standing([
        "Write an intro email for enterprise VPs of Sales, emphasizing time-to-ROI",
        "We sell Rampwise, an onboarding platform that cuts new-rep ramp time in half. Goal: book a 15-minute demo.",
        "shorter and more casual, sign off with 'Cheers, Tom'", "warmer", "under 80 words", "one paragraph",
        "start with a question about their hiring plans", "make the subject a question", "shorter subject",
        "include their first name in the subject", "Mention our SOC 2 report", "add the sentence 'We are SOC 2 ready.'",
        "add a P.S. about our pilot", "take out the line about ramp time", "change 'next week' to 'this month'",
        "end with a link to my calendar https://cal.com/tom", "don't use their last name", "softer CTA",
        "the opener sounds fake",
    ])
    lines = state.lines()
    assert state.opener_plain and any(line.startswith("opener: plain") for line in lines)
    assert "tone: casual" in lines and "length: at most 79 words" in lines and "sign-off: Cheers" in lines
    assert "subject: include %first_name%" in lines and "include: SOC 2 report" in lines
    assert "variables: without %last_name%" in lines and "call to action style: soft" in lines
    assert Standing.from_lines(lines) == state
    assert Standing.from_lines([]) == Standing()


def test_a_message_is_parsed_once_however_long_the_conversation() -> None:
    parse.cache_clear()
    messages = [f"make it shorter {i % 3}" for i in range(30)]
    for _ in range(3):
        standing(messages)
    info = parse.cache_info()
    assert info.misses == 3 and info.hits == 87


def test_every_request_kind_is_documented_and_applied() -> None:
    from jobs.agent.requests import _APPLY, KINDS

    assert set(KINDS) == set(_APPLY)
    kinds_seen = {r.kind for _, message, _ in CASES for r in parse(message).requests}
    assert kinds_seen == set(KINDS)  # the table above exercises every kind


def test_a_second_paragraph_is_not_a_second_email() -> None:
    """"make the second …" once read as "make (this) the second email" when a follow-up was asked too."""
    parsed = parse("make the second paragraph shorter and write a follow-up")
    assert [(r.kind, r.value) for r in parsed.requests] == [("shorter", 1), ("follow_up", True)]


class _Seen:
    """A rule's pattern that records the text it is run over."""

    def __init__(self, pattern: Any, texts: list[str]) -> None:
        self._pattern, self._texts = pattern, texts

    def finditer(self, text: str) -> Any:
        self._texts.append(text)
        return self._pattern.finditer(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pattern, name)


def test_the_rules_never_see_a_run_of_whitespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several patterns cost the square of a whitespace run's length (a clause may start after a newline and
    any whitespace; ``\\s+`` then ``\\s*``): a message of 8,000 characters, mostly newlines after trigger words,
    once held the worker's event loop for 34 s, and the turns sharing it lost their leases. Runs are one space
    or one newline before any rule looks."""
    import dataclasses
    import re

    from jobs.agent import requests

    texts: list[str] = []
    monkeypatch.setattr(requests, "_RULES", [dataclasses.replace(rule, pattern=_Seen(rule.pattern, texts))
                                             for rule in requests._RULES])
    parse.cache_clear()
    message = "mention remove open over back english and" + "\n" * 300 + " \t " * 100 + "make it shorter\n\n\n  please"
    got = parse(message)
    parse.cache_clear()
    assert texts and max(len(run) for text in texts for run in re.findall(r"\s+", text)) == 1
    assert [(r.kind, r.value) for r in got.requests] == [(r.kind, r.value) for r in parse(
        "mention remove open over back english and\nmake it shorter\nplease").requests]


def test_a_message_is_read_for_requests_up_to_what_a_turn_accepts() -> None:
    from jobs.agent.requests import PARSE_CHARS

    filler = "word " * (PARSE_CHARS // 5)
    assert [r.kind for r in parse(f"Make it more casual. {filler}").requests] == ["tone"]
    assert parse(f"{filler} Make it more casual.").requests == ()  # past the limit: only a PATCHed transcript has it
