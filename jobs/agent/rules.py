"""Output rules. Each check returns precise problems the model can act on; the agent turns them
into one ``ModelRetry`` message. Nothing here rewrites output: it is accepted or sent back.

Template syntax (contract-notes §2.8): ``%name%`` is a literal lead variable, ``&&…&&`` a span the
AI writes per lead with its instruction inside. A ``%`` right after a digit is a percentage ("40%")
and is allowed; any other ``%`` that is not part of a ``%name%`` is a malformed placeholder.
Examples are rendered per lead, so they may contain neither placeholders nor spans.
"""

from __future__ import annotations

import re

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


def _near(text: str, index: int) -> str:
    return text[max(0, index - 15): index + 15].replace("\n", " ")


def template_problems(field: str, text: str, allowed: set[str]) -> list[str]:
    """Problems with a template field (subject/body/skeleton text) against the whitelist."""
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
    if subject is not None and len(subject) > MAX_SUBJECT_CHARS:
        return [f"the subject is {len(subject)} characters; keep it to {MAX_SUBJECT_CHARS} or fewer "
                f"(shorten: '{subject[:40]}…')."]
    return []


def spam_problems(field: str, text: str) -> list[str]:
    lowered = text.lower()
    found = [p for p in SPAM_PHRASES if p in lowered]
    if not found:
        return []
    return [f"{field} contains the spam-trigger phrase{'s' if len(found) > 1 else ''} "
            f"{', '.join(repr(p) for p in found)}; rephrase without {'them' if len(found) > 1 else 'it'}."]


def turn_problems(out: TurnOutput, allowed: list[str]) -> list[str]:
    """Every rule a turn's output must pass."""
    names = set(allowed)
    problems: list[str] = []
    if not out.reply.strip():
        problems.append("reply is empty: tell the user what you did or what you need.")
    for field, text in (("draft_subject", out.draft_subject), ("draft_body", out.draft_body)):
        if text is not None:
            problems += template_problems(field, text, names)
            problems += spam_problems(field, text)
    problems += subject_problems(out.draft_subject)
    if out.skeleton is not None:
        for block_name in BLOCK_NAMES:
            block = getattr(out.skeleton, block_name)
            where = f"skeleton.{block_name}"
            problems += template_problems(f"{where}.strategy", block.strategy, names)
            bad = [f for f in block.personalization.fields if f.strip("%") not in names]
            if bad:
                problems.append(f"{where}.personalization.fields lists {', '.join(bad)}, not allowed. "
                                f"Allowed variables: {_allowed(names)}.")
    return problems


def example_problems(out: ExampleOutput) -> list[str]:
    problems = rendered_problems("subject", out.subject) + rendered_problems("body", out.body)
    if not out.body.strip():
        problems.append("body is empty: write the email for this lead.")
    problems += subject_problems(out.subject)
    problems += spam_problems("subject", out.subject) + spam_problems("body", out.body)
    return problems


def _allowed(names: set[str]) -> str:
    return ", ".join(f"%{n}%" for n in sorted(names)) or "(none: use no variables)"
