"""How the offline model writes the skeleton and the draft: rendered from the brief and the standing
requests (``jobs.agent.requests.Standing``), the same way every turn, so a request keeps applying
until the user changes it.

The body is built as parts (greeting, opener, value, proof, added sentences, call to action,
sign-off, P.S.), each a full sentence in the voice the tone asks for; the length requests decide
which parts are kept and how they are grouped into paragraphs. &&spans&& carry the per-lead lines
(the example writer fills them from the lead). ``notes`` says honestly what could not be done
(a variable that is not allowed, a word limit that cannot be met without dropping what was asked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from jobs.agent.english import (
    article,
    cap,
    clean,
    clip_words,
    count_words,
    decap,
    looks_plural,
    offer_sentence,
    outcome,
    sentence,
    short_offer,
    theme,
    to_you,
    topic,
    with_article,
)
from jobs.agent.requests import WHOLE_LINE, Standing
from jobs.agent.rules import MAX_SUBJECT_CHARS, VAR_RE

DEFAULT_AUDIENCE = "decision-makers in the lead's role"
DEFAULT_CTA = "15-minute call"


@dataclass
class Part:
    role: str  # greeting | warm | follow_up | hook | value | proof | mention | sentence | cta | sign_off | ps
    text: str
    requested: bool = False  # the user asked for it: never dropped to meet a length


Note = tuple[str, str, str]  # (request kind, the request's value, what to tell the user)


@dataclass
class Written:
    skeleton: dict[str, Any]
    subject: str
    body: str
    notes: list[Note] = field(default_factory=list)


def voice(state: Standing) -> str:
    """The one voice phrases are picked in: direct beats the register, the register beats warm."""
    if state.manner == "direct":
        return "direct"
    return state.register or state.manner or "neutral"


# ------------------------------------------------------------------------------------------ pieces

def _who(allowed: set[str]) -> str:
    """Who a per-lead span is about, in the variables this session allows."""
    if {"position", "company"} <= allowed:
        return "%position% at %company%"
    if "position" in allowed:
        return "this %position%"
    if "company" in allowed:
        return "the team at %company%"
    return "this lead"


def _greeting(state: Standing, allowed: set[str]) -> str:
    word = {"casual": "Hey", "formal": "Dear"}.get(state.register or "", "Hi")
    if "first_name" in allowed:
        return f"{word} %first_name%,"
    return {"Dear": "Hello,", "Hey": "Hey there,"}.get(word, "Hi there,")


_WARM = {"casual": "I hope your week is going well.", "formal": "I hope this message finds you well."}
_FOLLOW_UP = {
    "casual": "Following up on my last email, I had one more thought.",
    "formal": "Following up on my previous message, I would like to add one further point.",
    "direct": "Following up on my last email, here is one new point.",
}


_GERUND = re.compile(r"^(?!(?:" + "|".join(("hiring", "onboarding", "marketing", "pricing", "scheduling", "training",
                                            "planning", "recruiting", "billing", "shipping", "staffing", "accounting",
                                            "engineering", "manufacturing", "sourcing", "purchasing")) + r")\b)"
                     r"[a-z]+ing\s+\S", re.I)


def _question(subject: str | None, state: Standing, allowed: set[str], offer_topic: str) -> str:
    v = voice(state)
    if subject and _GERUND.match(subject):  # "saving four hours a week": would it make a difference?
        where = "%company%" if "company" in allowed else "your team"
        return f"Would {subject} make a difference for {where}?"
    if subject:
        personal = bool(re.search(r"\b(?:your|yours)\b", subject, re.I))
        if "company" in allowed and not personal:
            lead = {"casual": "How's %company%", "formal": "May I ask how %company% is"}.get(v, "How is %company%")
            return f"{lead} approaching {subject} this year?"
        lead = {"formal": "May I ask how you are"}.get(v, "How are you")
        return f"{lead} approaching {subject} right now?"
    if offer_topic:
        where = "%company%" if "company" in allowed else "your team"
        return f"Has {where} looked at {offer_topic} yet?" if not offer_topic[:1].islower() else \
            f"Has {where} looked at {with_article(offer_topic) if not looks_plural(offer_topic) else offer_topic} yet?"
    return "How does your team handle this today?"


def _hook(state: Standing, allowed: set[str], offer_topic: str, follow_up: bool) -> Part | None:
    if state.no_opener:
        return None
    if state.opener_exact:
        return Part("hook", sentence(clean(state.opener_exact, keep=allowed)), requested=True)
    subject = to_you(state.opener) if state.opener else None
    if state.opener_question:
        return Part("hook", _question(subject or theme(state.offer, state.focus), state, allowed, offer_topic),
                    requested=True)
    about = subject or theme(state.offer, state.focus)
    who = _who(allowed)
    if follow_up:
        angle = about or offer_topic or "the idea"
        plainly = ", said plainly with no compliment" if state.opener_plain else ""
        return Part("hook", f"&&One new angle on {angle} for {who}, not repeated from the earlier email{plainly}&&")
    if state.personal:  # one real, recent detail of this lead, then the link to what we write about
        link = about or offer_topic or "what we do"
        plain = "plain " if state.opener_plain else ""
        return Part("hook", f"&&One {plain}sentence on a specific, recent detail about {who} (a launch, a hire, a post) "
                            f"and how it ties to {link}&&", requested=True)
    if state.opener_plain:  # what read as fake: a compliment, a guess at their priorities; say why you write
        return Part("hook", f"&&One plain sentence on why you are writing to {who} about {about or offer_topic or 'this'}"
                            f"; no compliment, no guess at their priorities&&", requested=bool(state.opener))
    if about:
        verb = "matter" if looks_plural(about) else "matters"  # "why Q4 quotas matter", "why hiring matters"
        return Part("hook", f"&&One sentence on why {about} {verb} to {who}&&", requested=bool(state.opener))
    name = offer_topic or "this"
    verb = "solve" if looks_plural(name) else "solves"  # "a problem SEO reports solve", "… Rampwise solves"
    return Part("hook", f"&&One sentence on a problem {name} {verb} for {who}&&")


_DOCUMENT = re.compile(r"\b(?:report|certification|certificate|audit|attestation|whitepaper|white paper|guide|benchmark|"
                       r"study|studies|survey|deck|one-pager|ebook|e-book|checklist|playbook|template|soc\s?2|iso\s?\d+|"
                       r"gdpr|hipaa|pci|compliance|review|analysis|webinar|demo video|video|paper|research)\b", re.I)
_CLAUSE = re.compile(r"^\S+(?:\s+\S+){0,3}?\s+(?:is|are|was|were|has|have|had|saw|cut|cuts|got|gets|grew|reduced|increased|"
                     r"saved|saves|doubled|halved|went|hit|reached|closed|booked|won|uses|used|runs|ran|trusts|trusted|"
                     r"integrates|works|supports|offers|ships|takes|took|helped|helps|can|will|cover|covers)\b", re.I)


# "add social proof", "include a statistic", "add a testimonial": a kind of proof, not a fact to state. The
# offline model has no facts of the user's, so it leaves a span for one ("It is also worth mentioning our social
# proof." said nothing); the user, a hosted model or the example writer fills it.
_PROOF_KINDS = (
    (re.compile(r"testimonials?|(?:customer\s+|client\s+)?quotes?|reviews?", re.I), "One short customer quote"),
    (re.compile(r"statistics?|stats?|numbers?|data(?:\s+points?)?|metrics?|figures?", re.I),
     "One customer result with a number"),
    (re.compile(r"(?:customer\s+|client\s+)?logos?|(?:customer|client)\s+names", re.I), "One line naming two or three customers"),
    (re.compile(r"social\s+proof|proof(?:\s+points?)?|(?:customer\s+|client\s+)?(?:results?|success\s+stor(?:y|ies)|"
                r"stor(?:y|ies)|wins?)", re.I), "One customer result"),
)
_PROOF_DET = re.compile(r"^(?:(?:a|an|some|one|the|more|any|two|a\s+few|a\s+couple\s+of)\s+)?(?:(?:short|real|"
                        r"concrete|specific|strong|good|relevant|customer|client)\s+)?", re.I)


def proof_span(item: str, allowed: set[str]) -> str | None:
    """The placeholder for a kind of proof asked for without its facts; None for a fact to state."""
    noun = _PROOF_DET.sub("", item.strip().rstrip("."), count=1)
    for pattern, what in _PROOF_KINDS:
        if pattern.fullmatch(noun):
            return f"&&{what} relevant to {_who(allowed)}&&"
    return None


_RESULT_FIGURE = re.compile(r"\d\s*(?:%|x\b|×|percent\b)|\b(?:faster|slower|more|less|fewer|higher|lower|saved|"
                            r"savings?|cut|reduced|increased|grew|growth|roi|lift|uplift|up|down)\b.*\d|\d.*\b(?:faster|"
                            r"more|less|fewer|higher|lower|saved|savings?|roi|lift|uplift)\b", re.I)


_TERM_FIGURE = re.compile(r"\b\d+[- ](?:day|week|month|year|hour|minute)s?\b|\b24/7\b", re.I)  # a term, not a result


def mention_sentence(item: str) -> str:
    """A proof point, case study or fact as a full sentence."""
    text = item.strip().rstrip(".")
    low = text.lower()
    if low.startswith(("we ", "our ", "we're ", "we've ", "we'll ", "we'd ", "i ", "i'm ", "i've ", "it ", "it's ")) \
            or _CLAUSE.match(text):
        return sentence(text)
    # Only a bare noun phrase becomes ours: "their role" stays theirs (not "our their role").
    noun = text if low.startswith(("a ", "an ", "the ", "our ", "my ", "their ", "your ", "his ", "her ", "its ",
                                   "this ", "that ", "these ", "those ")) else f"our {text}"
    if _DOCUMENT.search(text):
        return f"I can share {noun} if it helps."
    if any(c.isdigit() for c in text) and (_RESULT_FIGURE.search(text) or not _TERM_FIGURE.search(text)):
        return f"One result worth sharing: {text}."  # "40% faster ramp", "over 200 customers"; not "our 14-day trial"
    return f"It is also worth mentioning {noun}."


def _ps(state: Standing, offer_topic: str) -> str | None:
    if not state.ps:
        return None
    if state.ps.startswith("about:"):
        about = state.ps.removeprefix("about:").strip()
        if about:
            return f"P.S. If it helps, I can also tell you more about {about}."
        return "P.S. Happy to send a two-minute overview first if that is easier."
    return "P.S. " + sentence(state.ps)


def cta_sentence(phrase: str, v: str, link: str | None, style: str | None = None, urgent: bool = False) -> str:
    """The call to action, natural for its kind (a meeting, a reply, a link) and the voice; ``style``
    "question" asks it as a question whatever the voice, "soft" asks for less (no date, no pressure);
    ``urgent`` asks for this week instead of next (a meeting kind; a reply or a link has no date)."""
    kind = phrase.split()[-1] if phrase else "call"
    where = link or "[booking link]"
    if style == "soft":
        return _soft_cta(kind, with_article(phrase), v == "formal", where)
    if kind == "reply":
        if style == "question":
            return ("Would you like me to send further details?" if v == "formal"
                    else "Would it help if I sent over the details?")
        return {
            "casual": "If it's interesting, just hit reply and I'll send more.",
            "formal": "If this is of interest, please reply to this email and I will send further details.",
            "warm": "If this sounds helpful, just reply to this email and I'll gladly share more.",
            "direct": "Reply to this email and I'll send the details.",
        }.get(v, "If this sounds relevant, just reply to this email and I'll send over the details.")
    if kind == "link":
        if style == "question":
            return f"Would one of the times here work for you? {where}"
        return {
            "casual": f"Grab a time that works for you here: {where}",
            "formal": f"You are welcome to choose a convenient time here: {where}",
            "warm": f"Whenever it suits you, you can pick a time here: {where}",
            "direct": f"Book a time here: {where}",
        }.get(v, f"You can pick a time that suits you here: {where}")
    ask = with_article(phrase)
    meeting = kind not in ("trial", "pilot")  # a meeting is booked for a day; a trial or a pilot starts
    when = " this week" if urgent else (" next week" if meeting else "")
    warm = (f"Would {ask}{when} be helpful?" if style == "question"
            else f"If it sounds useful, I'd be glad to set up {ask}{when}.")
    direct = (f"Can we book {ask} for {'this ' if urgent else ''}Tuesday or Wednesday?" if meeting
              else f"Can we start {ask} {'this week' if urgent else 'this month'}?")
    return {
        "casual": f"Are you up for {ask}{when}?",
        "formal": f"Would you be available for {ask}{when}?",
        "warm": warm,  # the one voice whose own ask is not a question
        "direct": direct,
    }.get(v, f"Would you be open to {ask}{when}?")


def _soft_cta(kind: str, ask: str, formal: bool, where: str) -> str:
    if kind == "reply":
        return ("Should this ever be of interest, a short reply is all it takes and I will send further details."
                if formal else "No pressure at all, but if it's ever useful, just reply and I'll share more.")
    if kind == "link":
        return (f"Should it be of interest, you are welcome to choose a time here: {where}" if formal
                else f"No pressure, but if it's ever useful, you can grab a time here: {where}")
    return (f"If the timing is right, would you be open to {ask} in the coming weeks?" if formal
            else f"If it's worth a look, would {ask} sometime in the next few weeks make sense?")


def _sign_off(state: Standing) -> str | None:
    default = {"casual": "Cheers", "formal": "Kind regards", "warm": "Warm regards", "direct": "Best"}
    word = state.sign_off if state.sign_off is not None else default.get(voice(state), "Best regards")
    name = state.signature or ""
    if word and name:
        return f"{word},\n{name}"
    return word or name or None


# ------------------------------------------------------------------------------------------- body

def _layout(parts: list[Part], state: Standing) -> str:
    """Parts grouped into paragraphs by the length requests, joined with blank lines."""
    by = {p.role: p for p in parts}
    greeting = [by["greeting"].text] if "greeting" in by else []
    opening = [p.text for p in parts if p.role in ("warm", "follow_up", "hook")]
    value = [p.text for p in parts if p.role == "value"]
    support = [p.text for p in parts if p.role in ("proof", "mention", "sentence")]
    cta = [p.text for p in parts if p.role == "cta"]
    tail = [p.text for p in parts if p.role == "sign_off"]
    ps = [p.text for p in parts if p.role == "ps"]
    if state.bullets and len(value + support) >= 2:
        listed = "\n".join(f"- {line}" for line in value + support)
        middle = [" ".join(opening), " ".join(cta), listed] if state.cta_early else \
            [" ".join(opening), listed, " ".join(cta)]
    elif state.one_paragraph:
        middle = [" ".join(opening + value + cta + support)] if state.cta_early else \
            [" ".join(opening + value + support + cta)]
    elif state.cta_early:  # the ask right after the offer line, what backs it up after the ask
        middle = [" ".join(opening), " ".join(value + cta), " ".join(support)] if state.shorter else \
            [" ".join(opening), " ".join(value), " ".join(cta), " ".join(support)]
    elif state.shorter:
        middle = [" ".join(opening + value + support), " ".join(cta)]
    else:
        middle = [" ".join(opening), " ".join(value), " ".join(support), " ".join(cta)]
    paragraphs = greeting + [m for m in middle if m] + tail + ps
    return "\n\n".join(p for p in paragraphs if p)


def _compose(state: Standing, allowed: set[str], follow_up: bool, value_short: bool) -> list[Part]:
    offer = state.offer or ""
    offer_topic = topic(offer)
    v = voice(state)
    parts = [] if state.no_greeting else [Part("greeting", _greeting(state, allowed), requested=True)]
    if state.manner == "warm":
        parts.append(Part("warm", _WARM.get(state.register or "", "I hope your week is off to a good start.")))
    if follow_up:
        parts.append(Part("follow_up", _FOLLOW_UP.get(v, "Following up on my earlier note, I wanted to share one more "
                                                          "thought."), requested=True))
    hook = _hook(state, allowed, offer_topic, follow_up)
    if hook and not (state.shorter >= 3 and not hook.requested):
        parts.append(hook)
    if offer:
        parts.append(Part("value", short_offer(offer) if value_short else offer_sentence(offer), requested=True))
    if state.mentions:
        parts += [Part("mention", proof_span(m, allowed) or mention_sentence(m), requested=True) for m in state.mentions]
    elif state.shorter == 0 and "proof" not in state.removed:
        like = "a company like %company%" if "company" in allowed else "a similar team"
        parts.append(Part("proof", f"&&One customer result from {like} (same industry or size)&&" if state.personal
                          else f"&&One customer result relevant to {_who(allowed)}&&"))
    parts += [Part("sentence", sentence(clean(s, keep=allowed)), requested=True) for s in state.sentences]
    ask = sentence(clean(state.cta_exact, keep=allowed)) if state.cta_exact else \
        cta_sentence(state.cta or DEFAULT_CTA, v, state.link, state.cta_style, state.urgent)
    parts.append(Part("cta", ask, requested=True))
    sign_off = _sign_off(state)
    if sign_off:
        parts.append(Part("sign_off", sign_off, requested=True))
    ps = _ps(state, offer_topic)
    if ps:
        parts.append(Part("ps", ps, requested=True))
    return parts


def _leave_out(parts: list[Part], targets: tuple[str, ...], notes: list[Note]) -> list[Part]:
    """Parts whose words contain a "leave out" target are dropped (not the greeting, CTA or sign-off)."""
    kept = parts
    for target in targets:
        if target == "proof":
            continue
        whole_line = target.startswith(WHOLE_LINE)
        shown = target.removeprefix(WHOLE_LINE)
        needle = " ".join(shown.lower().split())
        # whole words only: "don't use 'I'" once matched the "i" of every placeholder
        word = re.compile(rf"(?<![\w%]){re.escape(needle)}{'(?:e?s)?' if len(needle) > 2 else ''}(?![\w%])") if needle[-1:].isalnum() or needle[:1].isalnum() \
            else None
        hit = [p for p in kept if p.role not in ("greeting", "cta", "sign_off")
               and (word.search(" ".join(p.text.lower().split())) if word else needle in " ".join(p.text.lower().split()))]
        # The offer line is what the email sells: words inside it are not a reason to drop it ("don't mention
        # automation" once removed "We offer Ledgerly, accounting automation that …" whole).
        offer_words = [p for p in hit if p.role == "value" and not whole_line
                       and len(needle.split()) < len(p.text.split()) // 2]
        if offer_words:
            hit = [p for p in hit if p not in offer_words]
            notes.append(("remove", target, f"\u201c{shown}\u201d is part of the offer line, which stays; say what the "
                          "offer should be (offer: \u2026), what to write instead (replace \u201c"
                          f"{shown}\u201d with \u201c\u2026\u201d), or take out the line about {shown}"))
        if hit:
            kept = [p for p in kept if p not in hit]
        elif not offer_words:
            notes.append(("remove", target, f"I found no sentence with \u201c{shown}\u201d to leave out"))
    return kept


_TRIM_ORDER = ("warm", "proof", "value_short", "follow_up", "hook")  # what goes first to meet a word limit


def _body(state: Standing, allowed: set[str], follow_up: bool, notes: list[Note]) -> str:
    value_short = state.shorter >= 2
    dropped: set[str] = set()
    steps = iter(_TRIM_ORDER)
    while True:
        left_out: list[Note] = []
        parts = [p for p in _compose(state, allowed, follow_up, value_short) if p.role not in dropped or p.requested]
        body = _layout(_leave_out(parts, state.removed, left_out), state)
        if not state.max_words or count_words(body) <= state.max_words:
            break
        step = next(steps, None)
        if step is None:
            notes.append(("max_words", str(state.max_words),
                          f"the body is about {count_words(body)} words, over your limit of {state.max_words}: "
                          "everything left is something you asked for, so tell me what to drop"))
            break
        if step == "value_short":
            value_short = True
        else:
            dropped.add(step)
    notes += left_out
    if state.cta_early and not any(p.role in ("proof", "mention", "sentence") for p in parts):
        notes.append(("cta_early", "True", "the call to action already follows the offer line: nothing stands "
                      "between them"))
    if state.bullets and "\n- " not in body:
        notes.append(("bullets", "True", "there is only one point to list, so it stays a sentence; add a proof "
                      "point or a fact and they become bullet points"))
    return body


def _drop_words(text: str, old: str) -> str:
    """``old`` left out wherever it stands, with the space before it; "an onboarding platform" without
    "onboarding" is "a platform"."""
    def article_for_next(m: re.Match[str]) -> str:
        word = article(m.group(2))
        return f"{cap(word) if m.group(1)[0].isupper() else word} {m.group(2)}"

    text = re.sub(rf"\b(an?)[ \t]+{re.escape(old)}[ \t]+(\w+)", article_for_next, text, flags=re.I)
    return re.sub(rf"[ \t]*{re.escape(old)}", "", text, flags=re.I)


def _replace(text: str, replacements: tuple[tuple[str, str], ...], allowed: set[str], notes: list[Note] | None) -> str:
    for old, new in replacements:
        new = clean(new, keep=allowed)
        if not new and old.lower() in text.lower():
            text = _drop_words(text, old)
        elif old in text:
            text = text.replace(old, new)
        elif old.lower() in text.lower():
            text = re.sub(re.escape(old), new.replace("\\", r"\\"), text, flags=re.I)
        elif notes is not None:
            notes.append(("replace", old, f"\u201c{old}\u201d is not in the draft, so there was nothing to "
                          + ("replace" if new else "leave out")))
    return text


# ---------------------------------------------------------------------------------------- subject

_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]+\b")


def _lowercase(subject: str) -> str:
    """"Close the books 5 days faster at %company%" -> "close the books 5 days faster at %company%"; acronyms
    ("SOC 2", "ROI") and %variables% stay as they are."""
    kept = {m.start(): m.group(0) for m in _ACRONYM.finditer(subject)}
    kept.update({m.start(): m.group(0) for m in VAR_RE.finditer(subject)})
    out, i = [], 0
    for start in sorted(kept):
        if start < i:
            continue
        out.append(subject[i:start].lower())
        out.append(kept[start])
        i = start + len(kept[start])
    return "".join(out) + subject[i:].lower()


def subject_options(state: Standing, allowed: list[str], follow_up: bool, count: int) -> list[str]:
    """Up to ``count`` other subjects for this draft, each a way the subject can be asked for (a statement, a
    question, the outcome first, short), so the one chosen can be asked for by its words."""
    names = set(allowed) - set(state.no_vars)
    base = replace(state, subject_exact=None, subject_style=None, subject_short=False)
    current = _subject(state, names, follow_up, [])
    out: list[str] = []
    for variant in (base, replace(base, subject_style="question"), replace(base, subject_style="hook"),
                    replace(base, subject_short=True), replace(base, subject_style="question", subject_short=True),
                    replace(base, subject_style="hook", subject_short=True)):
        subject = _subject(variant, names, follow_up, [])
        if subject != current and subject not in out:
            out.append(subject)
    return out[:count]


def _subject(state: Standing, allowed: set[str], follow_up: bool, notes: list[Note]) -> str:
    subject = _subject_text(state, allowed, follow_up, notes)
    return _lowercase(subject) if state.subject_lower else subject


def _subject_text(state: Standing, allowed: set[str], follow_up: bool, notes: list[Note]) -> str:
    prefix = "Re: " if follow_up else ""
    room = MAX_SUBJECT_CHARS - len(prefix)
    excluded = set(state.subject_exclude)

    def usable(name: str) -> bool:
        return name in allowed and "variables" not in excluded and f"%{name}%" not in excluded

    if state.subject_exact:
        return prefix + clip_words(clean(state.subject_exact, keep={n for n in allowed if usable(n)}), room)
    add_vars: list[str] = []
    include_text = None
    for item in state.subject_include:
        var = VAR_RE.fullmatch(item)
        if not var:
            include_text = item
        elif usable(var.group(1)):
            add_vars.append(var.group(1))
        elif var.group(1) not in allowed:
            notes.append(("subject_include", item, f"{var.group(1).replace('_', ' ')} is not an allowed variable in "
                          "this campaign, so the subject cannot use it"))
    offer_topic = cap(topic(state.offer or ""))
    about = include_text or theme(state.offer, state.focus) or topic(state.offer or "") or "this"
    verb = "Are" if looks_plural(about) else "Is"
    company = "%company%" if usable("company") else None
    hook = outcome(state.offer) if state.subject_style == "hook" and not include_text else None
    if state.subject_style == "hook" and not include_text and not hook:
        notes.append(("subject_style", "hook", "the offer does not say what it does for the reader (as in \u201cthat "
                      "saves 5 hours a week\u201d), so the subject has nothing to lead with; tell me the outcome, or "
                      "the subject itself"))
    if hook:  # the outcome first: "Close the books 5 days faster"
        candidates = [hook] if state.subject_short else []
        if company:
            candidates.append(f"{hook} at {company}")
        candidates.append(hook)
    elif state.subject_style == "question" and about == "this":  # nothing to ask about by name
        candidates = ["Quick question", f"Quick question for {company}" if company else "Quick question"][::-1]
    elif state.subject_style == "question":
        candidates = [f"{cap(about)}?"] if state.subject_short else []
        if company:
            candidates.append(f"{verb} {about} a priority at {company}?")
        candidates += [f"{verb} {about} a priority this quarter?", f"{cap(about)}?"]
    else:
        # Nothing to name ("we help restaurants…" has no product name, theme or category): an idea, not "This".
        lead = cap(include_text) if include_text else offer_topic or ("A quick idea" if about == "this" else cap(about))
        candidates = [lead] if state.subject_short else []
        if company:
            candidates.append(f"{lead} at {company}" if include_text else f"{lead} for {company}")
        else:
            candidates.append(f"A quick idea on {decap(include_text)}" if include_text else f"{lead} for your team")
        candidates.append(lead)
    texts = [x.lower() for x in excluded if not VAR_RE.fullmatch(x) and x != "variables"]
    fitting = [c for c in candidates if len(c) <= room and not any(t in c.lower() for t in texts)]
    subject = fitting[0] if fitting else clip_words(offer_topic or candidates[-1], room)
    for name in add_vars:
        if f"%{name}%" in subject:
            continue
        if name == "company":
            question = subject.endswith("?")
            subject = f"{subject.rstrip('?')} at %company%" + ("?" if question else "")
        else:
            generated = subject.startswith(("Is ", "Are ", "A quick idea")) or (hook is not None and subject.startswith(hook))
            subject = f"%{name}%, {subject[:1].lower() + subject[1:] if generated else subject}"
    return prefix + clip_words(subject, room)


# --------------------------------------------------------------------------------------- skeleton

def _block(strategy: str, fields: list[str], approach: str, fallback: str, allowed: set[str]) -> dict[str, Any]:
    return {"strategy": strategy,
            "personalization": {"fields": [f for f in fields if f in allowed], "approach": approach,
                                "fallback": fallback}}


def cta_strategy(phrase: str, link: str | None) -> str:
    kind = phrase.split()[-1] if phrase else "call"
    if kind == "reply":
        return "Ask them to reply to the email"
    if kind == "link":
        return "Point them to the booking link" + (f" ({link})" if link else "")
    return f"Ask for {article(phrase)} {phrase}"


def _skeleton(state: Standing, allowed: set[str], follow_up: str | None) -> dict[str, Any]:
    offer = state.offer or ""
    offer_topic = topic(offer) or "the offer"
    if follow_up:
        hook = f"Follow up on {follow_up} with one new angle instead of repeating it"
    elif state.no_opener:
        hook = "No opener: start with the offer"
    elif state.opener_exact:
        hook = f"Open with the line \u201c{clean(state.opener_exact, keep=allowed)}\u201d"
    elif state.opener_question:
        hook = "Open with a question" + (f" about {state.opener}" if state.opener else "")
    elif state.opener:
        hook = f"Open with {state.opener}, tied to the reader's role and company"
    elif state.personal:
        hook = "Open with one specific, recent detail about the lead (a launch, a hire, a post), tied to the offer"
    elif state.opener_plain:
        hook = "Open with why you are writing to the reader's role and company"
    else:
        hook = "Open with a problem the reader's role feels, tied to their company"
    if state.opener_plain and not (state.no_opener or state.opener_exact or state.opener_question):
        hook += ", said plainly: a fact one can check, no compliment or guess at their priorities"
    value = f"What {offer_topic} changes for {state.audience}" + (f", focused on {state.focus}" if state.focus else "")
    if state.mentions:
        proof = "Cite: " + "; ".join(state.mentions)
    elif "proof" in state.removed:
        proof = "No proof point"
    else:
        proof = "One concrete customer result"
    return {
        "audience": state.audience,
        "offer": offer,
        "hook": _block(hook, ["first_name", "position", "company"], "One sentence, no flattery",
                       "Generic line tied to the audience's role", allowed),
        "value_prop": _block(value, ["company"], "Name the outcome, not the features",
                             "State the outcome without the company", allowed),
        "proof": _block(proof, ["company"], "Pick proof closest to the lead's situation",
                        "Use the strongest general result", allowed),
        "cta": _block(f"End with the line: {clean(state.cta_exact, keep=allowed)}" if state.cta_exact else
                      cta_strategy(state.cta or DEFAULT_CTA, state.link), ["first_name"], "One low-friction ask",
                      "Same ask without the name", allowed),
    }


def write(state: Standing, allowed: list[str], follow_up: str | None = None) -> Written:
    """The skeleton and draft for this brief and these standing requests."""
    names = set(allowed) - set(state.no_vars)  # what the user asked to leave out is as good as not allowed
    notes: list[Note] = []
    body = _body(state, names, follow_up is not None, notes)
    subject = _subject(state, names, follow_up is not None, notes)
    if state.language:  # said, not pretended: the text below is English whatever was asked
        notes.append(("language", state.language, f"the built-in offline model writes English only, so the draft "
                      f"stays in English; a hosted model (LLM_MODEL, for example openai:gpt-4o-mini) writes it in "
                      f"{state.language}, and the request stands for later turns"))
    if state.urgent:
        notes.append(("urgency", "True", _urgency_note(state)))
    if state.opener_plain:
        notes.append(("opener_plain", "True", _plain_opener_note(state)))
    if state.plain:
        body, swapped = plain_words(body)
        subject, in_subject = plain_words(subject)
        if not swapped + in_subject:
            notes.append(("plain", "True", "the draft already uses everyday words (no jargon such as "
                          "\u201cutilize\u201d or \u201cleverage\u201d); for shorter sentences, ask for it shorter"))
    if state.replacements:
        body = _replace(body, state.replacements, names, notes)
        subject = clip_words(_replace(subject, state.replacements, names, None), MAX_SUBJECT_CHARS)
    return Written(skeleton=_skeleton(state, names, follow_up), subject=subject, body=body, notes=notes)


def _plain_opener_note(state: Standing) -> str:
    own = ("your own line" if state.opener_exact else "a question" if state.opener_question else
           "left out" if state.no_opener else None)
    if own:
        return f"the opener is {own}, so there is no written-for-you opener to make plainer"
    return ("the opener placeholder now asks for why you are writing and a fact one can check, with no compliment "
            "and no guess at their priorities (the examples open that way); to choose the first line yourself, give "
            "it in quotes (first line: \u201c\u2026\u201d), or say \u201close the opener\u201d")


def _urgency_note(state: Standing) -> str:
    real = ("I do not invent a deadline or scarcity: if there is a real one (a price change, a cohort that starts, "
            "the quarter's close), tell me and I will add it as a sentence")
    kind = (state.cta or DEFAULT_CTA).split()[-1]
    if state.cta_exact or kind in ("reply", "link"):
        return f"the ask ({'your closing line' if state.cta_exact else 'a ' + kind}) has no date to bring forward; {real}"
    return f"the ask is now for this week; {real}"


# Business jargon and its everyday word, for "simplify the language": one word for one word (a verb's
# forms each to the same form of the plain verb), so no sentence needs rebuilding.
_PLAIN = {
    "utilize": "use", "utilizes": "uses", "utilized": "used", "utilizing": "using", "utilise": "use",
    "leverage": "use", "leverages": "uses", "leveraged": "used", "leveraging": "using",
    "facilitate": "help", "facilitates": "helps", "facilitated": "helped", "facilitating": "helping",
    "optimize": "improve", "optimizes": "improves", "optimized": "improved", "optimizing": "improving",
    "optimise": "improve", "streamline": "simplify", "streamlines": "simplifies", "streamlined": "simplified",
    "streamlining": "simplifying", "demonstrate": "show", "demonstrates": "shows", "demonstrating": "showing",
    "assist": "help", "assists": "helps", "assisted": "helped", "assisting": "helping",
    "empower": "help", "empowers": "helps", "empowering": "helping", "expedite": "speed up",
    "expedites": "speeds up", "commence": "start", "purchase": "buy", "endeavor": "try", "endeavour": "try",
    "ascertain": "find out", "approximately": "about", "additional": "more", "numerous": "many",
    "sufficient": "enough", "subsequently": "later", "prior to": "before", "in order to": "to",
    "at this point in time": "now", "due to the fact that": "because", "in the event that": "if",
    "with regard to": "about", "with respect to": "about", "a large number of": "many", "cutting-edge": "new",
    "state-of-the-art": "modern", "best-in-class": "leading", "seamless": "smooth", "seamlessly": "smoothly",
    "robust": "solid", "synergies": "gains", "holistic": "complete", "actionable": "practical",
}
_PLAIN_RE = re.compile(r"(?<![\w%&-])(" + "|".join(re.escape(w) for w in sorted(_PLAIN, key=len, reverse=True))
                       + r")(?![\w%&-])", re.I)


def plain_words(text: str) -> tuple[str, int]:
    """``text`` with business jargon in everyday words, and how many were swapped (a capital stays a
    capital; a %variable% is left as it is)."""
    def swap(m: re.Match[str]) -> str:
        plain = _PLAIN[m.group(1).lower()]
        return cap(plain) if m.group(1)[0].isupper() else plain

    return _PLAIN_RE.subn(swap, text)


def with_defaults(state: Standing, first_message: str) -> tuple[Standing, list[str]]:
    """Gaps in the brief filled with stated defaults (after one round of questions went unanswered)."""
    assumed: dict[str, str] = {}
    if state.audience is None:
        assumed["audience"] = DEFAULT_AUDIENCE
    if state.offer is None:
        assumed["offer"] = clip_words(clean(first_message), 120) or "what you described"
    if state.cta is None:
        assumed["cta"] = DEFAULT_CTA
    return replace(state, **assumed), [f"{k}: {v}" for k, v in assumed.items()]
