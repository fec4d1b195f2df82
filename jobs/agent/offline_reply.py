"""What the offline model tells the user after a turn, built from the diff of the old and the new
skeleton and draft, never from what it meant to do.

``changes`` names each changed element with its new value: the skeleton's audience, offer and block
plans, the subject, and in the body the greeting, each reworded / added / removed sentence, the
sign-off, the P.S., the paragraph count and the word count. ``capabilities`` is the list of what
the offline writer understands, for replies to a message it could not act on.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from jobs.agent.english import clip, count_words, split_sentences
from jobs.agent.requests import WHOLE_LINE, Request, Standing, names_greeting

QUOTE_CHARS = 110
MAX_SENTENCE_CHANGES = 4

CAPABILITIES = (
    "the tone (casual, formal, warmer, more direct)",
    "the length (shorter, under N words, one paragraph) and bullet points",
    "the greeting, sign-off and signature",
    "the opener (a topic, a question, an exact line, or plainer: \"the opener sounds fake\")",
    "the subject (shorter, catchier, a question, a word or their name in it, no variables, or exact text)",
    "a proof point, case study, P.S. or sentence (add or remove)",
    "the call to action (reply, call, demo, booking link; softer, as a question, more urgent, or earlier)",
    "plainer words (\"simplify the language\")",
    "a variable left out of the whole email (\"don't use their company name\")",
    "more personalization (a specific detail about each lead)",
    "the audience and the offer",
    "a fresh start from your brief (\"start over\")",
    "this email as a follow-up (\"write a follow-up email\")",
)
_BLOCK_NAMES = {"hook": "opener plan", "value_prop": "value plan", "proof": "proof plan", "cta": "call-to-action plan"}


def _q(text: str) -> str:
    one_line = " / ".join(line.strip() for line in text.strip().split("\n") if line.strip())
    return f"\u201c{clip(one_line, QUOTE_CHARS)}\u201d"


def _parts(body: str) -> dict[str, Any]:
    """A body as greeting, sentences, sign-off and P.S. (by position, as the drafts are laid out)."""
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    ps = [p for p in paragraphs if p.startswith(("P.S.", "PS ", "P.S "))]
    paragraphs = [p for p in paragraphs if p not in ps]
    greeting = paragraphs.pop(0) if paragraphs and "\n" not in paragraphs[0] and paragraphs[0].endswith(",") else ""
    sign_off = ""
    if len(paragraphs) > 1:
        last = paragraphs[-1]
        if len(last.split()) <= 8 and not last.endswith(("?", ".", "&&")) or "\n" in last:
            sign_off = paragraphs.pop()
    # a bulleted list is its lines, each a sentence of its own whatever its punctuation
    sentences = [s for p in paragraphs for line in _lines(p) for s in split_sentences(line)]
    bullets = sum(len(_lines(p)) for p in paragraphs if len(_lines(p)) > 1)
    return {"greeting": greeting, "sentences": sentences, "sign_off": sign_off, "ps": " ".join(ps), "bullets": bullets,
            "paragraphs": len(paragraphs) + bool(greeting) + bool(sign_off) + len(ps)}


def _lines(paragraph: str) -> list[str]:
    lines = paragraph.split("\n")
    if len(lines) > 1 and all(line.startswith("- ") for line in lines):
        return [line[2:] for line in lines]
    return [paragraph]


def _sentence_changes(old: list[str], new: list[str]) -> list[str]:
    out: list[str] = []
    removed, added = [], []
    for op, a1, a2, b1, b2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and a2 - a1 == b2 - b1 and not set(old[a1:a2]) & set(new) and not set(new[b1:b2]) & set(old):
            out += [f"reworded {_q(a)} \u2192 {_q(b)}" for a, b in zip(old[a1:a2], new[b1:b2], strict=True)]
            continue
        removed += old[a1:a2]
        added += new[b1:b2]
    # a sentence taken out in one place and put back in another moved ("move the CTA up")
    moved = [s for s in dict.fromkeys(removed) if s in added]
    out += [f"moved {_q(s)} {'up' if new.index(s) < old.index(s) else 'down'}" for s in moved]
    out += [f"removed {_q(a)}" for a in removed if a not in moved]
    out += [f"added {_q(b)}" for b in added if b not in moved]
    if len(out) > MAX_SENTENCE_CHANGES:
        out = out[:MAX_SENTENCE_CHANGES] + [f"{len(out) - MAX_SENTENCE_CHANGES} more sentence changes"]
    return out


def changes(old_skeleton: dict[str, Any] | None, new_skeleton: dict[str, Any] | None, old_subject: str | None,
            new_subject: str | None, old_body: str | None, new_body: str | None) -> list[str]:
    """Each changed element and its new value."""
    out: list[str] = []
    old_sk, new_sk = old_skeleton or {}, new_skeleton or {}
    for key in ("audience", "offer"):
        if new_sk.get(key) != old_sk.get(key) and new_sk.get(key):
            out.append(f"{key}: {_q(str(new_sk[key]))}")
    for key, name in _BLOCK_NAMES.items():
        old_plan = (old_sk.get(key) or {}).get("strategy")
        new_plan = (new_sk.get(key) or {}).get("strategy")
        if new_plan and new_plan != old_plan:
            out.append(f"{name}: {_q(new_plan)}")
    if new_subject is not None and new_subject != old_subject:
        out.append(f"subject: {_q(old_subject or '')} \u2192 {_q(new_subject)}" if old_subject else
                   f"subject: {_q(new_subject)}")
    if new_body is None or new_body == old_body:
        return out
    old, new = _parts(old_body or ""), _parts(new_body)
    if new["greeting"] != old["greeting"]:
        out.append(f"greeting: {_q(new['greeting'])}" if new["greeting"] else "greeting removed")
    out += _sentence_changes(old["sentences"], new["sentences"])
    if new["sign_off"] != old["sign_off"]:
        out.append(f"sign-off: {_q(new['sign_off'])}" if new["sign_off"] else "sign-off removed")
    if new["ps"] != old["ps"]:
        out.append(f"P.S.: {_q(new['ps'])}" if new["ps"] else "P.S. removed")
    if new["bullets"] != old["bullets"]:
        out.append(f"bullet points: {new['bullets']} lines" if new["bullets"] else "bullet points removed")
    if new["paragraphs"] != old["paragraphs"]:
        out.append(f"paragraphs: {old['paragraphs']} \u2192 {new['paragraphs']}")
    old_words, new_words = count_words(old_body or ""), count_words(new_body)
    if old_words != new_words:
        out.append(f"length: about {old_words} \u2192 {new_words} words")
    return out


# ---------------------------------------------------------------------------- what was understood

def said(request: Request) -> str:
    """How a request is named back to the user."""
    k, v = request.kind, request.value
    names = {
        "start_over": lambda: "a fresh start from your brief (every earlier change dropped)",
        "tone": lambda: "a neutral tone" if v == "neutral" else f"a {'warmer' if v == 'warm' else v} tone",
        "shorter": lambda: "shorter",
        "longer": lambda: "longer",
        "max_words": lambda: f"at most {v} words" if v else "no word limit",
        "one_paragraph": lambda: "one paragraph" if v else "separate paragraphs",
        "bullets": lambda: "bullet points" if v else "no bullet points",
        "sign_off": lambda: f"the sign-off \u201c{v}\u201d" if v else "no sign-off",
        "signature": lambda: f"signed \u201c{v}\u201d" if v else "no signature",
        "greeting": lambda: "the greeting back" if v else "no greeting",
        "language": lambda: f"the email in {v}",
        "personal": lambda: "more personalization" if v else "the standard opener and proof",
        "opener": lambda: f"an opener about {v}" if v else "the default opener",
        "opener_question": lambda: "a question as the opener",
        "opener_exact": lambda: "your opening line",
        "angle": lambda: "a different angle for the opener",
        "opener_plain": lambda: "a plainer opener (why you write, no compliment)" if v else
                                "an opener that may compliment something specific and true",
        "subject_style": lambda: "a catchier subject, leading with the outcome" if v == "hook" else
                                 f"the subject as a {v}",
        "subject_short": lambda: "a shorter subject",
        "subject_lower": lambda: "a lowercase subject" if v else "the subject in normal case",
        "subject_include": lambda: f"{_var_words(v)} in the subject",
        "subject_exclude": lambda: "no variables in the subject" if v == "variables" else
                                   f"no {_var_words(v)} in the subject",
        "subject_exact": lambda: f"the subject \u201c{v}\u201d",
        "subject_options": lambda: f"{v} subject lines to choose from",
        "variable": lambda: f"{_var_words(v)} in the email",
        "mention": lambda: f"mention {v}",
        "sentence": lambda: "your sentence",
        "ps": lambda: "no P.S." if not v else "a P.S.",
        "remove": lambda: "no greeting" if names_greeting(v) else f"leave out {'the ' if v.startswith(WHOLE_LINE) else ''}{v}",
        "replace": lambda: f"\u201c{v[0]}\u201d \u2192 \u201c{v[1]}\u201d" if v[1] else f"no \u201c{v[0]}\u201d",
        "cta": lambda: f"a {v} as the call to action" if v not in ("reply", "link") else
                       ("a reply as the call to action" if v == "reply" else "a booking link as the call to action"),
        "cta_style": lambda: {"question": "the call to action as a question", "soft": "a softer call to action"}.get(
            v, "the call to action in the tone's own words"),
        "cta_exact": lambda: "your closing line",
        "cta_early": lambda: "the call to action right after the offer" if v else "the call to action at the end",
        "urgency": lambda: "a more urgent ask" if v else "a less urgent ask",
        "plain": lambda: "plainer words",
        "follow_up": lambda: "a follow-up email" if v else "the first email, not a follow-up",
        "link": lambda: "your link",
        "audience": lambda: f"the audience {v}",
        "offer": lambda: "the new offer",
        "focus": lambda: f"a focus on {v}",
    }
    return names.get(k, lambda: k)()


def why_unchanged(request: Request, body: str) -> str:
    """Why a request that was understood left the draft as it was."""
    k, v = request.kind, request.value
    if k == "max_words" and v:
        return f"it is already within {v} words (about {count_words(body)}), and later drafts will keep to that"
    if k == "longer":
        return ("it is already the full version; tell me what to add (a proof point, a case study, a P.S. or a "
                "sentence)")
    if k == "shorter":
        return "it is already as short as it gets without dropping what you asked for; tell me what to leave out"
    if k == "angle":
        return ("the opener is one you wrote or left out, so there is no angle of mine to change; give another "
                "first line, or say which to open with (a question, a detail about the lead, or why you are writing)")
    return f"it already fits what you asked ({said(request)}), and later drafts will keep to it"


def _var_words(value: str) -> str:
    return value.strip("%").replace("_", " ") if value.startswith("%") else f"\u201c{value}\u201d"


# A standing request and how the summary names it (words, or a function of its value), in the order said.
_SHAPING: tuple[tuple[str, Any], ...] = (
    ("shorter", "shorter"),
    ("max_words", lambda v: f"at most {v} words"),
    ("one_paragraph", "one paragraph"),
    ("bullets", "bullet points"),
    ("sign_off", lambda v: f"sign-off \u201c{v}\u201d"),
    ("signature", lambda v: f"signed \u201c{v}\u201d"),
    ("no_greeting", "no greeting"),
    ("personal", "more personalization"),
    ("opener", lambda v: f"opener about {v}"),
    ("opener_question", "a question as the opener"),
    ("opener_plain", "a plain opener"),
    ("subject_style", lambda v: "a catchier subject" if v == "hook" else f"subject as a {v}"),
    ("subject_short", "a short subject"),
    ("subject_lower", "a lowercase subject"),
    ("cta_exact", "your closing line"),
    ("cta_style", lambda v: "call to action as a question" if v == "question" else "a softer call to action"),
    ("cta_early", "the call to action right after the offer"),
    ("urgent", "a more urgent ask"),
    ("plain", "plainer words"),
    ("follow_up", "a follow-up email"),
)


def earlier_summary(state: Standing) -> list[str]:
    """The standing draft-shaping requests, named briefly (for "still applied from earlier")."""
    out = [f"{t} tone" for t in state.tones]
    for field, name in _SHAPING:
        value = getattr(state, field)
        if value:
            out.append(name(value) if callable(name) else name)
    out += [f"mention {m}" for m in state.mentions]
    if state.ps:
        out.append("a P.S.")
    out += [f"no {name.replace('_', ' ')}" for name in state.no_vars]
    return out

