"""How the offline model writes one lead's example: it fills the draft template from the lead.

``%var%`` becomes the lead's value (standard field or custom field), or a fallback that fits where
the variable stands ("Hi there," for a missing first name, "at your company" for a missing
company). Each ``&&instruction&&`` span becomes one sentence written from the lead's headline,
role and company and from what the span asks for: the spans the offline writer puts in drafts are
recognised by their wording ("One sentence on why <theme> matter(s) to …", "One customer result …"),
others by their keywords. Grammar follows ``jobs.agent.english`` (articles, possessives, capitals).
A subject that would run past 60 characters for a long company name drops its tail or is cut at a
word boundary before it is returned; on a retry the validator's feedback is acted on the same way.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from jobs.agent.english import (
    cap,
    clean,
    clip_words,
    decap,
    looks_plural,
    possessive,
    proof_claim,
    theme,
    to_you,
    topic,
)
from jobs.agent.rules import MAX_SUBJECT_CHARS, SPAN_RE, VAR_RE

MAX_SPANS = 30  # &&…&& spans written per example; a draft has a few (opener, proof, maybe a P.S.)
_HOOK = re.compile(r"^One sentence on why (?P<theme>.+?) matters? to ", re.I)
_PROBLEM = re.compile(r"^One sentence on a problem (?P<topic>.+?) solves? for ", re.I)
_ANGLE = re.compile(r"^One new angle on (?P<theme>.+?) for ", re.I)
_DETAIL = re.compile(r"^One (?P<plain>plain )?sentence on a specific, recent detail about .+? and how it ties to "
                     r"(?P<theme>.+)$", re.I)
_PLAIN = re.compile(r"^One plain sentence on why you are writing to .+? about (?P<theme>.+?); no compliment", re.I)
_RESULT = re.compile(r"\b(?:result|results|proof|customer|case stud|stat|number|metric|outcome|testimonial)\w*", re.I)
_ABOUT = re.compile(r"\b(?:on|about|around|regarding|mentioning|referencing)\s+(?P<theme>[^,.;:&%]{3,60}?)"
                    r"(?=\s+(?:for|to|at|that|which|and)\b|[,.;:]|$)", re.I)
_NOUN_ING = {"marketing", "engineering", "accounting", "consulting", "banking", "recruiting", "hiring", "onboarding",
             "operations", "training", "manufacturing", "publishing", "advertising", "nursing", "housing", "staffing",
             "planning", "pricing", "shipping", "billing", "financing", "lending", "learning", "trading",
             "computing", "networking", "printing", "packaging", "catering", "clothing", "farming", "mining",
             "fundraising", "outsourcing", "sourcing", "purchasing", "licensing", "ticketing", "gaming", "hosting",
             "landscaping", "plumbing", "roofing", "cleaning", "coaching", "tutoring", "writing", "design"}
_OBJECT_START = re.compile(r"\d[\d,.+kK]*|a|an|the|our|my|new|more|top", re.I)  # "Hiring 200 …", "Hiring the …"
_HEADLINE_SPLIT = re.compile(r"\s*(?:\||•|·|—|–|;|/|,\s(?=[A-Z]))\s*")


def _values(lead: dict[str, Any]) -> dict[str, str]:
    values = {k: clean(str(v)) for k, v in (lead.get("custom_fields") or {}).items() if v not in (None, "")}
    values.update({k: clean(str(v)) for k, v in lead.items() if isinstance(v, str) and v.strip()})
    if "first_name" not in values and values.get("full_name"):
        values["first_name"] = values["full_name"].split()[0]
    return {k: v for k, v in values.items() if v}


def _about(value: str) -> str:
    """A theme as the subject of a sentence ("their hiring plans" -> "Your hiring plans")."""
    return cap(to_you(value.strip()))


def _headline_activity(headline: str | None) -> str | None:
    """"Scaling sales teams at Acme | ex-Salesforce" -> "scaling sales teams at Acme"."""
    if not headline:
        return None
    first = _HEADLINE_SPLIT.split(headline.strip(), maxsplit=1)[0].strip()
    words = first.split()
    word = words[0].lower()
    # "Hiring 200 warehouse staff" is something they do; "Hiring & Talent" is a field they work in.
    verb = word not in _NOUN_ING or (len(words) > 1 and bool(_OBJECT_START.fullmatch(words[1])))
    if word.endswith("ing") and verb and len(words) >= 2 and len(first) <= 60:
        return decap(first)
    return None


def _role_at(values: dict[str, str]) -> tuple[str | None, str | None]:
    """(role, company) for "as <role> at <company>"; the company is left out when the role already names it."""
    role = values.get("position")
    company = values.get("company")
    if role and company and (company.lower() in role.lower() or " at " in role):
        company = None
    return role, company


def hook_sentence(subject: str | None, values: dict[str, str], audience: str | None, offer_topic: str,
                  plain: bool = False) -> str:
    """The opener for one lead: why ``subject`` matters to them, from their headline, role or company.
    ``plain``: why we write instead, and only what the lead's own data says (no guess at their priorities)."""
    role, company = _role_at(values)
    company_name = values.get("company")
    if plain:
        return _plain_hook(subject or offer_topic, values, role, company)
    if subject:
        about = _about(subject)
        be = "are" if looks_plural(subject) else "is"
        activity = _headline_activity(values.get("headline"))
        if activity:
            # Mid-sentence: the theme as written, not capitalised ("so time-to-ROI is", not "so Time-to-ROI is").
            return f"I saw you are {activity}, so {to_you(subject.strip())} {be} probably high on your list."
        if role and company:
            return f"{about} {be} probably high on your list as {role} at {company}."
        if role:
            return f"{about} {be} probably high on your list as {role}."
        if company_name:
            if company_name.endswith("s") and not possessive(company_name).endswith("s'"):
                # "Acme Logistics's radar" is correct but reads badly: say it without the possessive.
                return f"{about} {be} probably on the radar at {company_name} this quarter."
            return f"{about} {be} probably on {possessive(company_name)} radar this quarter."
        if audience:
            return f"{about} tend{'' if looks_plural(subject) else 's'} to be high on the list for {audience}."
        return f"{about} {be} probably on your radar this quarter."
    thing = offer_topic or "this"
    if role and company:
        return f"As {role} at {company}, you may be the right person to talk to about {thing}."
    if role:
        return f"As {role}, you may be the right person to talk to about {thing}."
    if company_name:
        return f"I thought {thing} might be relevant to the team at {company_name}."
    return f"I thought {thing} might be relevant to you."


def _plain_hook(about: str | None, values: dict[str, str], role: str | None, company: str | None) -> str:
    thing = f" about {to_you(about.strip())}" if about and about.strip().lower() not in ("this", "the idea") else ""
    activity = _headline_activity(values.get("headline"))
    if activity:  # their own headline: a fact they wrote, not a guess
        return f"I saw you are {activity}, and I'm writing{thing or ' with an idea for you'}."
    if role and company:
        return f"I'm writing to you as {role} at {company}{thing}."
    if role:
        return f"I'm writing to you as {role}{thing}."
    if values.get("company"):
        return f"I'm writing to the team at {values['company']}{thing}."
    return f"I'm writing{thing or ' with an idea for you'}."


def proof_sentence(values: dict[str, str], offer: str) -> str:
    """One customer result for one lead, from the offer's own claim ("have cut ramp time in half")."""
    claim = proof_claim(offer)
    name = topic(offer)
    with_what = f" with {name}" if name[:1].isupper() else ""  # a product name, not "15 minutes to ROI"
    industry = values.get("industry")
    company = values.get("company")
    if industry and company:
        who = f"{cap(industry)} teams similar to {company}"
    elif company:
        who = f"Teams similar to {company}"
    else:
        who = "Teams like yours"
    if claim:
        return f"{who} {claim}{with_what}."
    return f"{who} usually see the difference{with_what} within the first quarter."


def _span(instruction: str, values: dict[str, str], skeleton: dict[str, Any]) -> str:
    instruction = " ".join(instruction.split())
    offer = str(skeleton.get("offer") or "")
    audience = skeleton.get("audience")
    offer_topic = topic(offer)
    m = _PLAIN.match(instruction)
    if m:
        return hook_sentence(m.group("theme"), values, audience, offer_topic, plain=True)
    for pattern in (_HOOK, _ANGLE):
        m = pattern.match(instruction)
        if m:
            return hook_sentence(m.group("theme"), values, audience, offer_topic,
                                 plain="said plainly" in instruction)
    m = _DETAIL.match(instruction)
    if m:  # the lead's own detail is their headline when there is one (hook_sentence reads it)
        theme_ = m.group("theme")
        return hook_sentence(None if theme_ in ("what we do", offer_topic) else theme_, values, audience, offer_topic,
                             plain=bool(m.group("plain")))
    m = _PROBLEM.match(instruction)
    if m:
        return hook_sentence(None, values, audience, m.group("topic") if m.group("topic") != "this" else "")
    if _RESULT.search(instruction):
        return proof_sentence(values, offer)
    about = _ABOUT.search(VAR_RE.sub("", instruction))
    subject = about.group("theme").strip() if about else theme(offer, None)
    return hook_sentence(subject, values, audience, offer_topic)


_GREETING_VAR = re.compile(r"\b(?P<word>Hi|Hey|Hello|Dear|Morning|Good morning)\s+%(?P<name>first_name|full_name|"
                           r"last_name)%\s*,", re.I)
_PREP_VAR = re.compile(r"\b(?P<prep>at|for|with|to|from|in|as)\s+%(?P<name>[A-Za-z_][A-Za-z0-9_]*)%")
_POSSESSIVE_VAR = re.compile(r"%(?P<name>[A-Za-z_][A-Za-z0-9_]*)%'s\b")
_COMMA_VAR = re.compile(r",\s*%(?P<name>first_name|full_name|last_name)%(?=\s*[?.!]|\s*$)")
_LEAD_VAR = re.compile(r"(?:(?<=^)|(?<=\n))%(?P<name>first_name|full_name|last_name)%\s*,\s*")
_PREP_FALLBACK = {("at", "company"): "at your company", ("for", "company"): "for your team",
                  ("with", "company"): "with your team", ("to", "company"): "to your team",
                  ("in", "company"): "in your company", ("from", "company"): "from your team",
                  ("as", "position"): "in your role", ("at", "position"): "in your role"}
_FALLBACKS = {"first_name": "there", "full_name": "there", "company": "your company", "position": "your role",
              "last_name": ""}


def render(template: str, values: dict[str, str], skeleton: dict[str, Any] | None = None) -> str:
    """A draft template written out for one lead: spans, then variables (with fitting fallbacks)."""
    skeleton = skeleton or {}
    written: dict[str, str] = {}  # a span repeated is written once
    seen = itertools.count(1)

    def span(m: re.Match[str]) -> str:
        if next(seen) > MAX_SPANS:
            return ""  # past any real draft's spans (a PATCHed one may hold thousands, each a sentence): left out
        instruction = m.group(1)
        if instruction not in written:
            written[instruction] = _span(instruction, values, skeleton)
        return written[instruction]

    text = SPAN_RE.sub(span, template).replace("&&", "")  # a marker left unpaired is not text for the lead

    def greeting(m: re.Match[str]) -> str:
        value = values.get(m.group("name")) or values.get("first_name")
        if value:
            return f"{m.group('word')} {value},"
        return "Hello," if m.group("word").lower() == "dear" else f"{m.group('word')} there,"

    text = _GREETING_VAR.sub(greeting, text)
    text = _COMMA_VAR.sub(lambda m: f", {values[m.group('name')]}" if values.get(m.group("name")) else "", text)
    text = _LEAD_VAR.sub(lambda m: f"{values[m.group('name')]}, " if values.get(m.group("name")) else "", text)
    text = _POSSESSIVE_VAR.sub(lambda m: possessive(values[m.group("name")], person=m.group("name") != "company")
                               if values.get(m.group("name")) else "your", text)
    text = _PREP_VAR.sub(lambda m: f"{m.group('prep')} {values[m.group('name')]}" if values.get(m.group("name"))
                         else _PREP_FALLBACK.get((m.group("prep").lower(), m.group("name")),
                                                 f"{m.group('prep')} {_FALLBACKS.get(m.group('name'), 'you')}"), text)
    text = VAR_RE.sub(lambda m: values.get(m.group(1)) or _FALLBACKS.get(m.group(1), ""), text)
    return _tidy(text)


_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_REPEATED_PUNCT = re.compile(r"([,;:])\1+")
_LEADING_PUNCT = re.compile(r"^\s*[,;:]\s*")
_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        if line and not line.isspace():
            line = _SPACES.sub(" ", line)
            line = _SPACE_BEFORE_PUNCT.sub(r"\1", line)
            line = _REPEATED_PUNCT.sub(r"\1", line)
            line = _LEADING_PUNCT.sub("", line)
        lines.append(line.strip())
    # A line that began with a variable left out ("%first_name%, quick question") starts with a capital.
    text = "\n".join(line[:1].upper() + line[1:] if line[:1].islower() and not line[1:2].isupper() else line
                     for line in lines)
    return _BLANK_LINES.sub("\n\n", text)  # an email has one blank line between paragraphs, never a stack of them


def fit_subject(subject: str) -> str:
    """A rendered subject within 60 characters: without its "for/at <company>" tail, else cut at a word."""
    subject = " ".join(subject.split())
    if len(subject) <= MAX_SUBJECT_CHARS:
        return subject
    question = subject.endswith("?")
    shorter = re.sub(r"\s+(?:for|at|with)\s+[^,?]+(?=\??$)", "", subject)
    if shorter != subject and len(shorter) <= MAX_SUBJECT_CHARS and len(shorter) >= 8:
        return shorter if not question or shorter.endswith("?") else shorter + "?"
    cut = clip_words(subject, MAX_SUBJECT_CHARS - (1 if question else 0))
    cut = re.sub(r"\s+(?:for|at|with|to|of|and|the|a|an|on|in)$", "", cut, flags=re.I)
    return cut + ("?" if question and not cut.endswith("?") else "")


def write_example(context: dict[str, Any], feedback: list[str]) -> dict[str, Any]:
    """Output-tool arguments for one lead's example email."""
    lead = context.get("lead") or {}
    draft = context.get("draft_template") or {}
    values = _values(lead)
    skeleton = context.get("skeleton") or {}
    offer = str(skeleton.get("offer") or "")
    name = cap(topic(offer)) or "An idea"
    subject_template = draft.get("subject") or f"{name} for %company%"
    body_template = draft.get("body") or f"Hi %first_name%,\n\n{cap(offer)}.\n\nBest regards"
    subject = fit_subject(render(subject_template, values, skeleton))
    if any("subject is" in f for f in feedback):
        subject = fit_subject(subject[: MAX_SUBJECT_CHARS])
    return {"subject": subject, "body": render(body_template, values, skeleton)}
