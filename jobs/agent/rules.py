"""Output rules. Each check returns precise problems the model can act on; the agent turns them
into one ``ModelRetry`` message. Nothing here rewrites output: it is accepted or sent back.

Template syntax (contract-notes §2.8): ``%name%`` is a literal lead variable, ``&&…&&`` a span the
AI writes per lead with its instruction inside. A ``%`` right after a digit is a percentage ("40%")
and is allowed; any other ``%`` that is not part of a ``%name%`` is a malformed placeholder.
Examples are rendered per lead, so they may contain neither placeholders nor spans.

Coverage per field (a turn):

=====================================================  =========================  ============
field                                                  whitelist + span syntax    spam phrases
=====================================================  =========================  ============
reply                                                  yes                        no (it may quote them)
skeleton.audience, skeleton.offer                      yes                        yes
skeleton.<block>.strategy / .approach / .fallback      yes                        yes
skeleton.<block>.personalization.fields                allowed names              –
draft_subject (also: at most 60 characters)            yes                        yes
draft_body                                             yes                        yes
example subject (also: at most 60 characters), body    none left at all           yes
=====================================================  =========================  ============

Sizes, so what is stored fits the session's caps (core.limits): the reply, the draft body, the
skeleton as JSON and an example's body each have a maximum; the model is asked to shorten.

Every rule reads text through :func:`core.text.normalize` (NFKC, invisible characters removed), so
"act\\u200b now", a fullwidth "％ssn％" or a zero-width character inside a placeholder is judged as
the reader would see it.
"""

from __future__ import annotations

import re

from core import limits
from core.text import normalize
from jobs.agent.output import BLOCK_NAMES, ExampleOutput, TurnOutput

MAX_SUBJECT_CHARS = 60
VAR_RE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
SPAN_RE = re.compile(r"&&(.*?)&&", re.DOTALL)
# A short, deliberately conservative list: phrases that reliably trip spam filters in cold email.
SPAM_PHRASES = (
    "act now",
    "100% free",
    "risk-free",
    "risk free",
    "guaranteed",
    "no obligation",
    "click here",
    "buy now",
    "limited time",
    "cash bonus",
    "double your",
    "earn money",
    "$$$",
)


def _phrase_pattern(phrase: str) -> str:
    """A phrase as a whole-word pattern ("act now" is not found in "impact now")."""
    head = r"(?<!\w)" if phrase[0].isalnum() else ""
    tail = r"(?!\w)" if phrase[-1].isalnum() else ""
    return head + re.escape(phrase) + tail


_SPAM_EACH = tuple((phrase, re.compile(_phrase_pattern(phrase))) for phrase in SPAM_PHRASES)
SPAM_RE = re.compile("|".join(_phrase_pattern(p) for p in SPAM_PHRASES), re.IGNORECASE)
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"})


def matchable(text: str) -> str:
    """The form phrase rules compare: normalised, case-folded, dashes unified, whitespace runs as one space."""
    return " ".join(normalize(text).casefold().translate(_DASHES).split())


def spam_found(text: str) -> list[str]:
    """The spam phrases in ``text``, in list order."""
    folded = matchable(text)
    if not SPAM_RE.search(folded):
        return []
    return [phrase for phrase, pattern in _SPAM_EACH if pattern.search(folded)]


def _near(text: str, index: int) -> str:
    return text[max(0, index - 15): index + 15].replace("\n", " ")


def template_problems(field: str, text: str, allowed: set[str]) -> list[str]:
    """Problems with a template field (any text the model writes in a turn) against the whitelist."""
    text = normalize(text)
    problems: list[str] = []
    unknown = sorted({name for name in VAR_RE.findall(text) if name not in allowed})
    if unknown:
        names = ", ".join(f"%{n}%" for n in unknown)
        problems.append(f"{field} uses {names}, which {'is' if len(unknown) == 1 else 'are'} not allowed. "
                        f"Allowed variables: {_allowed(allowed)}. Use one of those or write the words out.")
    stripped = VAR_RE.sub("", text)
    for match in re.finditer(r"%", stripped):
        i = match.start()
        if i > 0 and stripped[i - 1].isdigit():
            continue  # a percentage such as 40%
        problems.append(f"{field} has a stray '%' near '{_near(stripped, i)}': write variables as %name% "
                        "with no spaces, or remove the '%'.")
        break
    if text.count("&&") % 2:
        problems.append(f"{field} has an unclosed '&&' span: every per-lead span opens and closes with && "
                        "(&&instruction for this lead&&).")
    elif any(not span.strip() for span in SPAN_RE.findall(text)):
        problems.append(f"{field} has an empty &&&& span: put the instruction for the per-lead text inside it, "
                        "or remove the span.")
    return problems


def rendered_problems(field: str, text: str) -> list[str]:
    """Problems with text that is already rendered for one lead (examples)."""
    text = normalize(text)
    problems: list[str] = []
    names = sorted(set(VAR_RE.findall(text)))
    if names:
        problems.append(f"{field} still contains {', '.join(f'%{n}%' for n in names)}: an example is the final "
                        "email for this lead, so write the lead's actual value (or the fallback) instead.")
    elif re.search(r"(?<!\d)%", text):
        problems.append(f"{field} has a stray '%': an example must contain no placeholders.")
    if "&&" in text:
        problems.append(f"{field} still contains a && span: write the per-lead text itself, without the && markers.")
    return problems


def subject_problems(subject: str | None) -> list[str]:
    if subject is None:
        return []
    seen = normalize(subject)
    if len(seen) > MAX_SUBJECT_CHARS:
        return [f"the subject is {len(seen)} characters; keep it to {MAX_SUBJECT_CHARS} or fewer "
                f"(shorten: '{seen[:40]}…')."]
    return []


def spam_problems(field: str, text: str) -> list[str]:
    found = spam_found(text)
    if not found:
        return []
    return [f"{field} contains the spam-trigger phrase{'s' if len(found) > 1 else ''} "
            f"{', '.join(repr(p) for p in found)}; rephrase without {'them' if len(found) > 1 else 'it'}."]


def email_text_problems(field: str, text: str, allowed: set[str]) -> list[str]:
    """A field whose words can end up in an email: the template rules plus the spam phrases."""
    return template_problems(field, text, allowed) + spam_problems(field, text)


def size_problems(sizes: list[tuple[str, int, int]]) -> list[str]:
    """(field, size, cap) triples over their cap: what is stored must fit the session's caps (core.limits)."""
    return [f"{field} is {size} characters; keep it to {cap} or fewer." for field, size, cap in sizes if size > cap]


def turn_problems(out: TurnOutput, allowed: list[str]) -> list[str]:
    """Every rule a turn's output must pass (coverage per field: see the module docstring)."""
    names = set(allowed)
    problems: list[str] = size_problems([
        ("reply", len(out.reply), limits.MAX_REPLY_CHARS),
        ("draft_body", len(out.draft_body or ""), limits.MAX_DRAFT_BODY_CHARS),
        ("the skeleton (as JSON)", limits.json_chars(out.skeleton.as_json()) if out.skeleton else 0,
         limits.MAX_SKELETON_CHARS),
    ])
    if not out.reply.strip():
        problems.append("reply is empty: tell the user what you did or what you need.")
    problems += template_problems("reply", out.reply, names)
    for field, text in (("draft_subject", out.draft_subject), ("draft_body", out.draft_body)):
        if text is not None:
            problems += email_text_problems(field, text, names)
    problems += subject_problems(out.draft_subject)
    if out.skeleton is not None:
        problems += email_text_problems("skeleton.audience", out.skeleton.audience, names)
        problems += email_text_problems("skeleton.offer", out.skeleton.offer, names)
        for block_name in BLOCK_NAMES:
            block = getattr(out.skeleton, block_name)
            where = f"skeleton.{block_name}"
            problems += email_text_problems(f"{where}.strategy", block.strategy, names)
            problems += email_text_problems(f"{where}.personalization.approach", block.personalization.approach, names)
            problems += email_text_problems(f"{where}.personalization.fallback", block.personalization.fallback, names)
            bad = [f for f in block.personalization.fields if f.strip("%") not in names]
            if bad:
                problems.append(f"{where}.personalization.fields lists {', '.join(bad)}, not allowed. "
                                f"Allowed variables: {_allowed(names)}.")
    return problems


def example_problems(out: ExampleOutput) -> list[str]:
    problems = size_problems([("body", len(out.body), limits.MAX_EXAMPLE_BODY_CHARS)])
    problems += rendered_problems("subject", out.subject) + rendered_problems("body", out.body)
    if not out.body.strip():
        problems.append("body is empty: write the email for this lead.")
    problems += subject_problems(out.subject)
    problems += spam_problems("subject", out.subject) + spam_problems("body", out.body)
    return problems


def _allowed(names: set[str]) -> str:
    return ", ".join(f"%{n}%" for n in sorted(names)) or "(none: use no variables)"
