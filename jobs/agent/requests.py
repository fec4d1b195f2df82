"""What the user asks for, as typed requests, and what stands after a whole conversation.

``parse(message)`` turns one user message into :class:`Request` s (tone, length, sign-off, opener,
subject, proof points, P.S., sentences, call to action, audience, offer, …) with plain,
deterministic pattern matching: several phrasings per kind, compound messages ("shorter and more
casual, sign it Tom") and quoted values ("sign off with 'Cheers, Tom'"). What no pattern claimed
is returned as ``unmatched`` so the model can say what it did not understand.

:class:`Standing` is the accumulation: every request the user made so far, a later request of a
kind replacing an earlier one ("more formal" after "more casual"), lists growing ("mention X" and
"mention Y"), removals taking things back out. ``standing(messages)`` folds a transcript's user
messages; ``Standing.lines()`` states the result in the prompt context (``standing_requests``) so a
hosted model and the offline model see the same list, and ``Standing.from_lines`` reads it back.

Parsing is cached per message text, so a long transcript costs a dictionary look-up per message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from core.payloads import MAX_MESSAGE_CHARS
from core.text import normalize
from jobs.agent.english import cap, clean, clip_words, strip_determiner, to_you
from jobs.agent.rules import VAR_RE

VALUE_CHARS = 160
PARSE_CHARS = MAX_MESSAGE_CHARS  # how much of one message is read for requests (see parse)
MAX_ITEMS = 6  # per list (mentions, sentences, removals…): the newest are kept


@dataclass(frozen=True)
class Request:
    """One thing the user asked for. ``value`` is a str, int, bool, or None (see ``KINDS``)."""

    kind: str
    value: Any = None
    said: str = ""  # the words that asked for it


KINDS = {
    "start_over": "True: every earlier request dropped but the brief (audience, offer, focus, call to action, link)",
    "tone": "casual | formal | warm | direct | neutral",
    "shorter": "steps (1, or 2 for 'much shorter')",
    "longer": "steps",
    "max_words": "int, or None for no limit",
    "one_paragraph": "bool",
    "bullets": "bool: the value and proof as a bulleted list",
    "sign_off": "text, '' for none",
    "signature": "text, '' for none",
    "personal": "bool: a lead-specific detail in the opener and proof (True), or the plain ones",
    "language": "a language name ('English' is the default)",
    "greeting": "True: the greeting back (leaving it out is a 'remove' of the greeting)",
    "opener": "topic, '' for the default opener",
    "opener_question": "bool",
    "opener_exact": "a sentence",
    "angle": "True: the next way to open (a question, a detail about the lead, plainly why we write, then back)",
    "opener_plain": "bool: the generated opener said plainly (why you write, a fact one can check; no compliment, no "
                    "guess at the reader's priorities)",
    "variable": "a %variable% the email uses again (after it was left out)",
    "subject_style": "question | statement | hook (catchier: leads with what the offer does for the reader)",
    "subject_short": "bool",
    "subject_lower": "bool: the subject in lower case (as a colleague might type it)",
    "subject_include": "a %variable% or words",
    "subject_exclude": "a %variable%, or 'variables' for all of them",
    "subject_exact": "the subject",
    "subject_options": "int: how many other subject lines to offer in the reply, 2-5 (the draft keeps its own)",
    "mention": "a proof point, case study or fact",
    "sentence": "a sentence to add",
    "ps": "P.S. text ('' for none); may start with 'about ' for a topic",
    "remove": "what to take out",
    "replace": "(old, new)",
    "cta": "call | demo | meeting | chat | trial | pilot | reply | link, with an optional length ('15-minute demo')",
    "cta_style": "question | soft, '' for the tone's own",
    "cta_exact": "the closing line, word for word",
    "cta_early": "bool: the call to action right after the offer line (before the proof), or back at the end",
    "urgency": "bool: a time-bound ask (this week); no invented deadline",
    "plain": "bool: plain, everyday words instead of business jargon (utilize → use, leverage → use, …)",
    "follow_up": "bool: this email written as a follow-up to an earlier one (as on a later node of the sequence)",
    "link": "URL",
    "audience": "text",
    "offer": "text",
    "focus": "text",
}

# ------------------------------------------------------------------------------------ the patterns

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
                         "\u2018": "'", "\u2019": "'", "\u201a": "'"})
_STARTERS = (r"(?:make|add|use|sign|open|start|begin|lead|change|switch|swap|replace|remove|drop|delete|cut|lose|skip|"
             r"include|mention|put|keep|end|close|ask|turn|also|plus|then|please|shorten|trim|tighten|write|say|give|"
             r"less|more|shorter|longer|under|below|no|one|single|subject|cta|tone|warmer|friendlier|casual|formal|"
             r"direct|punchier|highlight|reference|cite|get|and|p\.?s\.?|max|at most|limit|sound|be)")
_END = (rf"(?=\s*(?:[;!?\n]|\.(?:\s|$)|$)|\s*,\s*(?:and\s+|then\s+)?{_STARTERS}\b|"
        rf"\s+(?:and|but|then|plus|also)\s+{_STARTERS}\b|\s+instead\b)")
_V = rf"(?P<v>[^\s.;!?\n](?:[^.;!?\n]|\.(?=\S)){{0,{VALUE_CHARS}}}?){_END}"
_Q = r"""(?:"(?P<dq>[^"\n]{1,200})"|(?<![\w'])'(?P<sq>[^\n]{1,200}?)'(?![\w']))"""
_QV = rf"(?:{_Q}|{_V})"
# An imperative starts a clause: the message start, punctuation, or a polite/linking lead-in.
_GO = (r"(?:^|(?<=[.,;:!?\n(])|\b(?:and|please|also|then|just|now|pls|but|so|maybe|perhaps|try\s+to|to|you|"
       r"(?:can|could|should|shall)\s+we|"
       r"let's|lets|kindly|could|can|would|should|must|actually|ok|okay|oh|ah|hmm|alright|finally|lastly|next|"
       r"honestly|wait|yes|yeah)\s+)\s*")
# "title" is the subject, but not someone's title ("add my title: Head of Growth" once set the subject)
_SUBJECT = (r"(?:subject(?:\s+line)?|subject-line|(?<!\bmy\s)(?<!\bjob\s)(?<!\btheir\s)(?<!\byour\s)(?<!\bhis\s)"
            r"(?<!\bher\s)title)")
_WITHIN = r"(?:(?!\band\b)[^.;,!?\n]){0,40}?"  # words between a keyword and its target, inside one clause


def _value(m: re.Match[str]) -> str:
    for name in ("dq", "sq", "v"):
        try:
            got = m.group(name)
        except IndexError:
            continue
        if got:
            return got.strip()
    return ""


def _quoted(m: re.Match[str]) -> bool:
    try:
        return bool(m.group("dq") or m.group("sq"))
    except IndexError:
        return False


Handler = Callable[[re.Match[str]], list[Request] | None]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    handle: Handler
    triggers: tuple[str, ...]  # a rule only runs on a message containing one of these (lower case)


_RULES: list[_Rule] = []
_TONE_STEMS = ("casual", "informal", "relax", "conversation", "laid", "chill", "loose", "breez", "chatt", "natural",
               "human", "formal", "professional", "polish", "business", "button", "serious", "respect", "proper", "warm",
               "friend", "kind", "personable", "empath", "gentl", "soft", "nice", "approachable", "caring", "direct",
               "punch", "blunt", "bold", "assertive", "confident", "straight", "crisp", "sharp", "point", "decisive",
               "chase", "concrete", "stiff", "stuffy", "robot", "corporate", "rigid", "cold", "pushy", "aggressive",
               "salesy", "harsh", "transactional", "vague", "wishy", "passive", "fluff", "timid", "chummy", "slang",
               "sloppy", "familiar", "filler", "small talk", "pleasantries", "jargon", "buzzword", "hype", "tone", "peer",
               "colleague", "vendor", "salesperson", "sales rep")
_LANGUAGES = ("English", "German", "French", "Spanish", "Italian", "Portuguese", "Dutch", "Swedish", "Danish",
              "Norwegian", "Finnish", "Polish", "Czech", "Greek", "Romanian", "Hungarian", "Turkish", "Russian",
              "Ukrainian", "Japanese", "Chinese", "Mandarin", "Korean", "Hindi", "Arabic", "Hebrew", "Indonesian",
              "Vietnamese", "Thai")  # what "write it in …" is read for
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "_replace": ("replace", "change", "swap", "switch", "instead"),
    "_words_out": ("word", "phrase", "term", "expression", "say", "writ", "avoid"),
    "_subject_chars": ("char",),
    "_subject_hook": ("subject", "title"), "_subject_lower": ("subject", "title"),
    "_subject_exact": ("subject", "title"), "_subject_statement": ("subject", "title"),
    "_subject_question": ("subject", "title"), "_subject_short": ("subject", "title"),
    "_subject_no_variables": ("subject", "title"), "_subject_exclude": ("subject", "title"),
    "_subject_include": ("subject", "title"), "_subject_options": ("subject", "title"),
    "_sign_off": ("sign", "clos", "valediction", "end", "finish", "wrap"),
    "_signature": ("sign", "name", "from"),
    "_ps": ("p.s", "ps", "postscript", "post-script"),
    "_greeting": ("greeting", "salutation"),
    "_personal": ("personal", "tailor", "custom", "generic", "templat", "impersonal", "mass", "specific"),
    "_language": tuple(language.lower() for language in _LANGUAGES),
    "_opener": ("open", "start", "begin", "lead", "kick", "hook", "first", "intro"),
    "_ask_question": ("ask",),
    "_angle": ("angle", "approach", "take on"),
    "_opener_plain": ("fake", "forced", "phony", "phoney", "insincere", "chees", "cring", "contrived", "flatter",
                      "complim", "genuine", "authentic", "sincere", "believ", "natural", "honest", "pretend",
                      "familiar", "over the top", "creep", "presum", "fawn", "suck", "disingenuous", "made up",
                      "real", "plain", "awkward", "try-hard", "trying too hard"),
    "_in_opener": ("open", "first", "intro", "hook", "lead"),
    "_variable_back": ("again", "back"),
    "_sentence": ('"', "'", ":"),
    "_keep_as_is": ("keep", "leave", "change", "touch"),
    "_cta_exact": ("end", "close", "finish", "cta", "call to action", "call-to-action", "closing line", "last line"),
    "_cta_rule": ("cta", "call", "ask", "invite", "get", "push", "nudge", "send", "offer", "suggest", "propose", "go for",
                  "demo", "meeting", "chat", "trial", "pilot", "walkthrough",
                  "end", "close", "finish", "link", "calendar", "calendly", "booking", "scheduling", "reply",
                  "response", "just"),
    "_cta_early": ("cta", "call to action", "call-to-action", "the ask", "ask "),
    "_urgency": ("urgen", "time-sensitive", "time sensitive", "sooner", "asap"),
    "_follow_up": ("follow", "second email", "2nd email", "next email", "first email"),
    "_plain": ("simpl", "plain", "easier", "big words", "fancy", "complicated", "jargon", "dumb", "everyday", "buzzword"),
    "_cta_style": ("question", "soft", "gentl", "pushy", "pressure", "commitment", "low-key", "low key", "aggressive",
                   "salesy", "demanding", "needy", "desperate",
                   "strong", "direct", "firm", "harder"),
    "_no_meeting": ("n't", "not", "never", "no need", "stop"),
    "_instead_of": ("instead", "rather", "not"),
    "_link": ("http",),
    "_remove": ("remove", "drop", "delete", "cut", "lose", "take out", "get rid", "leave out", "strip", "omit", "skip",
                "kill", "ditch", "scrap", "nix", "n't", "not", "stop", "longer", "never", "no ", "without", " out",
                "no need"),
    "_mention": ("mention", "include", "add", "highlight", "talk", "bring", "reference", "cite", "point", "work in",
                 "squeeze", "throw", "call out", "weave", "note", "say", "case stud", "proof"),
    "_start_over": ("over", "scratch", "fresh", "again", "reset", "forget", "clean slate"),
    "_tone_inverted": _TONE_STEMS, "_tone": _TONE_STEMS, "_tone_reset": ("tone",), "_founder": ("founder", "ceo"),
    "_no_limit": ("limit", "cap", "count"), "_max_words": ("word",),
    "_much_shorter": ("short", "concise", "tight", "brief", "half", "long"),
    "_shorter": ("short", "long", "concise", "brief", "tight", "trim", "cut", "wordy", "condense", "fewer", "snapp",
                 "verbose", "lean", "pare", "much text", "tl"),
    "_longer": ("long", "short", "detail", "expand", "elaborate", "flesh", "context", "full", "beef", "undo"),
    "_one_paragraph": ("paragraph", "block", "break"), "_paragraphs": ("paragraph", "block", "break"),
    "_bullets": ("bullet", "list", "prose"),
}


def _rule(*patterns: str) -> Callable[[Handler], Handler]:
    def register(handle: Handler) -> Handler:
        for pattern in patterns:
            _RULES.append(_Rule(re.compile(pattern, re.I), handle, _TRIGGERS[handle.__name__]))
        return handle
    return register


def _req(kind: str, value: Any, m: re.Match[str]) -> list[Request]:
    return [Request(kind, value, " ".join(m.group(0).split()).strip(" ,.;"))]


def _text(value: str) -> str:
    return clip_words(clean(value), VALUE_CHARS)


# --- replace 'A' with 'B'
@_rule(r"\b(?:replace|change|swap|switch)\s+" + _Q.replace("dq", "a1").replace("sq", "a2")
       + r"\s+(?:with|to|for|into|by)\s+" + _Q.replace("dq", "b1").replace("sq", "b2"),
       r"\b(?:say|use)\s+" + _Q.replace("dq", "b1").replace("sq", "b2") + r"\s+instead\s+of\s+"
       + _Q.replace("dq", "a1").replace("sq", "a2"))
def _replace(m: re.Match[str]) -> list[Request] | None:
    old = (m.group("a1") or m.group("a2") or "").strip()
    new = (m.group("b1") or m.group("b2") or "").strip()
    if not old:
        return None
    if old.lower().rstrip(",") in _SIGN_OFFS:
        return _req("sign_off", _text(new).rstrip(","), m)
    return _req("replace", (normalize(old), clean(new, keep=_ANY_VAR)), m)


# "remove the word 'automation'", "don't say 'touch base'": those words out, wherever they stand (a replace with
# nothing); once not understood, and the second added the sentence "Touch base."
@_rule(r"\b(?:remove|drop|delete|cut|lose|take\s+out|get\s+rid\s+of|strip(?:\s+out)?)\s+(?:the\s+)?(?:word|words|phrase|"
       r"term|expression)\s+" + _QV,
       r"\b(?:don'?t|do\s+not|never|stop)\s+(?:say|saying|write|writing)\s+" + _Q,
       # named as a word, it may go unquoted ("avoid the word free", "don't use the word synergy")
       r"\b(?:(?:don'?t|do\s+not|never|stop)\s+(?:use|using)|avoid(?:\s+using)?|no\s+more)\s+the\s+(?:word|phrase|term|"
       r"expression)\s+" + _QV,
       r"\bavoid\s+(?:saying|writing)\s+" + _Q,
       r"\bi\s+(?:don'?t|do\s+not)\s+(?:like|love|want)\s+the\s+(?:word|phrase|term|expression)\s+" + _QV)
def _words_out(m: re.Match[str]) -> list[Request] | None:
    words = _value(m).strip().strip(",")
    return _req("replace", (normalize(words), ""), m) if words else None


class _AnyVar(frozenset):  # type: ignore[type-arg]
    """Keeps every %variable% when cleaning a value; whether it is allowed is the writer's call."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY_VAR = _AnyVar()

# --- subject
_VAR_WORDS = {
    "first_name": r"(?:%first_name%|(?:their |the (?:lead's |prospect's )?|a |)first[ _]name|their name|the name|(?:the )?name)",
    "company": r"(?:%company%|(?:their |the )?company(?: name)?|(?:their |the )?business(?: name)?|(?:their |the )?org(?:anization)?)",
    "position": r"(?:%position%|(?:their |the )?(?:job )?(?:title|role|position))",
    "last_name": r"(?:%last_name%|(?:their |the )?last[ _]name|(?:their |the )?surname)",
}
_VAR_WORD_RES = {name: re.compile(rf"^{pattern}$", re.I) for name, pattern in _VAR_WORDS.items()}


def _as_variable(value: str) -> str | None:
    value = value.strip().strip("'\"").strip()
    var = VAR_RE.fullmatch(value)
    if var:
        return var.group(1)
    for name, pattern in _VAR_WORD_RES.items():
        if pattern.match(value):
            return name
    return None


_CATCHY = (r"(?:catchier|catchy|compelling|interesting|intriguing|clickable|engaging|exciting|eye-catching|"
           r"attention-grabbing|appealing|enticing|memorable|curiosity[- ](?:driven|inducing|provoking)|"
           r"more\s+curious|teasing|mysterious)")
_WITHIN_ONE = r"(?:(?!\b(?:and|but|though|although|while|whereas)\b)[^.;,!?\n]){0,30}?"  # one clause, one thing


_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "a couple of": 2, "a few": 3, "some": 3, "several": 4}
_OPTIONS = r"(?:options|ideas|alternatives|variants|variations|versions|suggestions|choices)"
_A_COUNT = r"(?P<n>[2-9]|\d{2,}|two|three|four|five|a\s+couple\s+of|a\s+few|some|several)"


# "give me 3 subject line options", "suggest a few subject lines", "subject line ideas?" (once not understood): the
# reply offers them, the draft keeps its subject
@_rule(rf"\b(?:give|show|suggest|write|offer|send|list|provide|propose|brainstorm|generate|draft|come\s+up\s+with|"
       rf"need|want|get)\s+(?:me\s+|us\s+)?(?:{_A_COUNT}\s+)?(?:more\s+|other\s+|alternative\s+|different\s+|"
       rf"new\s+|possible\s+)?(?:{_SUBJECT}s?|subject-lines)(?:\s+{_OPTIONS}|\s+to\s+choose\s+from)?(?:\s+{_OPTIONS})?"
       rf"(?=\s*(?:[,;.!?\n]|$|\s+(?:and|but|then|for|to)\b))",
       rf"\b(?:{_A_COUNT}\s+)?(?:other\s+|alternative\s+|more\s+)?{_SUBJECT}\s+{_OPTIONS}\b",
       rf"\b(?:{_A_COUNT}\s+)?(?:other\s+|more\s+)?{_OPTIONS}\s+for\s+the\s+{_SUBJECT}\b",
       rf"\b(?:a/?b|split)[- ]test\s+(?:the\s+|a\s+few\s+|some\s+)?{_SUBJECT}s?\b")
def _subject_options(m: re.Match[str]) -> list[Request] | None:
    said = (m.groupdict().get("n") or "").lower()
    count = int(said) if said.isdigit() else _COUNT_WORDS.get(" ".join(said.split()), 3)
    words = m.group(0).lower()
    if not said and not re.search(rf"subjects\b|lines\b|{_OPTIONS}|test", words):
        return None  # "write a subject line": one subject, the rules below read it
    return _req("subject_options", max(2, min(5, count)), m)


# "make the subject more catchy", "the subject is boring", "make the subject pop" (once the subject "pop"),
# "lead with the benefit in the subject" (once an opener about "the benefit in the subject")
@_rule(rf"\b(?:(?:more|a\s+(?:more|bit\s+more))\s+)?(?:{_CATCHY}|better|stronger)\s+{_SUBJECT}",
       rf"\b{_SUBJECT}\b{_WITHIN_ONE}\b(?:(?:more|less)\s+)?(?:{_CATCHY}|boring|bland|dull|flat|meh|weak|generic-sounding|"
       rf"pop|stand\s+out|stands\s+out|grabs?\s+(?:their\s+|the\s+reader's\s+|more\s+)?attention|better|stronger)\b",
       rf"\b(?:improve|punch\s+up|spice\s+up|jazz\s+up|liven\s+up|rework)\s+the\s+{_SUBJECT}",
       rf"\b(?:lead|start|open)\s+with\s+(?:the|our|a)\s+(?:benefit|outcome|result|value)\s+in\s+the\s+{_SUBJECT}",
       rf"\b{_SUBJECT}\b{_WITHIN_ONE}\b(?:lead|start|open)s?\s+with\s+(?:the|our|a)\s+(?:benefit|outcome|result|value)\b")
def _subject_hook(m: re.Match[str]) -> list[Request]:
    return _req("subject_style", "hook", m)


_HOOK_LINE = "catchier, leading with what the offer does for the reader"  # the context line of subject_style "hook"
_PLAIN_OPENER_LINE = "plain: why you write and a fact one can check, no compliment"  # the context line of opener_plain
_LOWER = r"(?:all[- ])?(?:lower[- ]?case(?:d)?|lower\s+case)"
_NORMAL_CASE = r"(?:normal|regular|sentence|title|proper)\s+case|capitali[sz]ed|capitals"


# "make the subject lowercase" (once the subject "lowercase"), "capitalize the subject again"
@_rule(rf"\b{_SUBJECT}\b{_WITHIN_ONE}\b(?:in\s+)?(?P<low>{_LOWER})\b",
       rf"\b(?P<low2>{_LOWER})\s+{_SUBJECT}",
       rf"\b{_SUBJECT}\b{_WITHIN_ONE}\b(?:in\s+)?(?:{_NORMAL_CASE})\b",
       rf"\b(?:capitali[sz]e)\s+the\s+{_SUBJECT}")
def _subject_lower(m: re.Match[str]) -> list[Request]:
    return _req("subject_lower", bool(m.groupdict().get("low") or m.groupdict().get("low2")), m)


_MAKE_IT = re.compile(rf"\s*make\s+the\s+{_SUBJECT}\s+(?!to\b|into\b|as\b)", re.I)


@_rule(rf"\b(?:use|make)\s+{_Q}\s+(?:as\s+)?(?:the\s+)?{_SUBJECT}",
       rf"\b{_SUBJECT}\s*(?::|=|should\s+(?:be|read|say)|to\s+be|could\s+be)\s*{_QV}",
       rf"\b(?:change|set|make|rename|update|rewrite)\s+the\s+{_SUBJECT}\s+(?:to|into|as)?\s*{_QV}",
       rf"\b{_SUBJECT}\s+(?:like|along the lines of)\s+{_Q}")
def _subject_exact(m: re.Match[str]) -> list[Request] | None:
    value = _value(m)
    low = value.lower()
    if not _quoted(m) and (re.search(r"\b(?:question|shorter|short|statement|punchier|snappier|generic|variables?|"
                                     r"personali[sz]|catchier|better|different|more|less)\b", low) or len(value) < 3):
        return None  # a style ("make the subject a question"), not a subject
    about = re.match(r"^something\s+(?:about|on|around|with|mentioning)\s+(?P<t>.+)$", low)
    if about and not _quoted(m):  # "change the subject to something about ramp time": what it names, not its text
        return _req("subject_include", _text(value[len(value) - len(about.group("t")):]), m)
    if not _quoted(m) and _MAKE_IT.match(m.group(0)) and low == value and len(value.split()) <= 3 and "%" not in value:
        return None  # "make the subject line salesy-sounding": how it reads, not its text (which comes after "to")
    return _req("subject_exact", clip_words(clean(value, keep=_ANY_VAR), 80), m)


@_rule(rf"\b{_SUBJECT}\b{_WITHIN}\b(?:not|no longer|instead of)\s+(?:be\s+)?a\s+question\b",
       rf"\b{_SUBJECT}\b{_WITHIN}\bstatement\b",
       rf"\b(?:drop|remove|lose)\s+the\s+question\s+mark\b{_WITHIN}\b{_SUBJECT}")
def _subject_statement(m: re.Match[str]) -> list[Request]:
    return _req("subject_style", "statement", m)


@_rule(rf"\b{_SUBJECT}\b{_WITHIN}\b(?:a\s+|into\s+a\s+|as\s+a\s+|to\s+a\s+)?question\b",
       rf"\bquestion\s+(?:as\s+(?:the\s+)?|in\s+the\s+|for\s+the\s+)?{_SUBJECT}",
       rf"\b{_SUBJECT}\b{_WITHIN}\b(?:ask|asks|asking)\b(?:\s+(?:a|them|something))?",
       rf"\b(?:end|finish)\s+the\s+{_SUBJECT}\s+with\s+a\s+question\s+mark")
def _subject_question(m: re.Match[str]) -> list[Request]:
    return _req("subject_style", "question", m)


@_rule(r"\b(?:keep\s+it\s+|make\s+it\s+|at\s+most\s+|)(?:under|below|within|less\s+than|fewer\s+than|max(?:imum)?\s+of)\s+"
       r"\d{1,3}\s+char(?:acter)?s\b")
def _subject_chars(m: re.Match[str]) -> list[Request]:
    return _req("subject_short", True, m)  # characters are counted for subjects; the body is counted in words


@_rule(rf"\b(?:shorter|shorten|short|punchier|snappier|tighter|trim|briefer|cut(?:\s+down)?)\s+(?:the\s+)?{_SUBJECT}",
       rf"\b{_SUBJECT}\b{_WITHIN}\b(?:shorter|shorten|short|punchier|snappier|tighter|too long|briefer|fewer words|"
       rf"under\s+\d+\s+char(?:acter)?s)\b")
def _subject_short(m: re.Match[str]) -> list[Request]:
    return _req("subject_short", True, m)


@_rule(rf"\b(?:remove|drop|strip|lose|take out|get rid of|no|without|skip)\s+(?:the\s+|any\s+|all\s+)?"
       rf"(?:variables?|personali[sz]ation|placeholders?|merge (?:fields|tags)|%\w+%)\s+(?:from|in)\s+the\s+{_SUBJECT}",
       rf"\b{_SUBJECT}\b{_WITHIN}\b(?:without|no)\s+(?:any\s+)?(?:variables?|personali[sz]ation|placeholders?|"
       rf"merge (?:fields|tags))",
       rf"\b(?:don'?t|do not|stop)\s+personali[sz]e\s+the\s+{_SUBJECT}",
       rf"\b{_SUBJECT}\s+(?:should\s+be\s+|more\s+)?(?:generic|plain|static|unpersonali[sz]ed)\b",
       rf"\b(?:generic|plain|static|unpersonali[sz]ed)\s+{_SUBJECT}",
       rf"\bsame\s+{_SUBJECT}\s+for\s+(?:everyone|all|every lead)")
def _subject_no_variables(m: re.Match[str]) -> list[Request]:
    var = VAR_RE.search(m.group(0))
    return _req("subject_exclude", f"%{var.group(1)}%" if var else "variables", m)


@_rule(rf"\b(?:remove|drop|strip|lose|take out|get rid of|leave out)\s+(?:the\s+)?(?P<v>[%\w' ]{{2,40}}?)\s+"
       rf"(?:from|in|out of)\s+the\s+{_SUBJECT}",
       rf"\b{_SUBJECT}\b{_WITHIN}\bwithout\s+(?:the\s+)?(?P<v>[%\w' ]{{2,40}}?){_END}")
def _subject_exclude(m: re.Match[str]) -> list[Request] | None:
    var = _as_variable(m.group("v"))
    if var:
        return _req("subject_exclude", f"%{var}%", m)
    return _req("subject_exclude", _text(m.group("v")), m)


_QV_IN_SUBJECT = _QV.replace(_END, r"(?=\s+(?:in|into|to|on)\s+the\s+" + _SUBJECT + ")")


@_rule(rf"\b(?:put|include|add|mention|use|work|get|insert)\s+{_QV_IN_SUBJECT}"
       rf"\s+(?:in|into|to|on)\s+the\s+{_SUBJECT}",
       rf"\b{_SUBJECT}\s+(?:should\s+|must\s+|needs?\s+to\s+|has\s+to\s+)?(?:include|includes|mention|mentions|contain|"
       rf"contains|have|has|say|says|use|uses)\s+{_QV}",
       rf"\b{_SUBJECT}\s+with\s+{_QV}")
def _subject_include(m: re.Match[str]) -> list[Request] | None:
    value = _value(m)
    var = _as_variable(value)
    if var:
        return _req("subject_include", f"%{var}%", m)
    if re.search(r"\b(?:question|variables?|personali[sz]ation)\b", value, re.I):
        return None
    text = _text(strip_determiner(value) if not _quoted(m) else value)
    return _req("subject_include", text, m) if text else None


# --- sign-off and signature
_SIGN_OFFS = {"cheers", "best", "best regards", "kind regards", "warm regards", "regards", "warmly", "thanks",
              "thank you", "many thanks", "talk soon", "speak soon", "all the best", "sincerely", "yours",
              "yours sincerely", "yours truly", "take care", "with thanks", "best wishes", "warm wishes", "thanks again",
              "looking forward", "cheers mate", "ciao", "later", "respectfully", "with gratitude", "gratefully"}
_NAME = r"(?-i:(?P<name>[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}))"
_NAMEISH = re.compile(r"^(?-i:[A-Z][\w.'-]*)(?:\s+(?-i:[A-Z][\w.'-]*|[a-z]{1,3})){0,4}(?:,.*)?$")


def _split_sign_off(value: str) -> tuple[str | None, str | None]:
    """"Cheers, Tom" -> ("Cheers", "Tom"); "Talk soon" -> ("Talk soon", None); "Tom" -> (None, "Tom")."""
    value = value.strip().strip(",")
    head, _, tail = value.partition(",")
    if head.lower().strip() in _SIGN_OFFS:
        return _text(head), (_text(tail) or None)
    if "\n" in value:
        first, _, rest = value.partition("\n")
        return _text(first).rstrip(","), _text(rest) or None
    if _NAMEISH.match(value):
        return None, _text(value)
    return _text(value), None


_QV_AS_SIGN_OFF = _QV.replace(_END, r"(?=\s+as\s+(?:the\s+|a\s+|my\s+)?(?:sign-?off|closing))")


@_rule(rf"\bsign(?:\s+it|\s+the\s+email)?[\s-]*off\s+(?:the\s+email\s+|it\s+)?(?:with|as|using)\s+{_QV}",
       rf"\b(?:sign-?off|closing|close|valediction|sign\s+off)\s*(?::|=|should\s+be\b|to\s+be\b)\s*{_QV}",
       rf"\b(?:change|make|switch|swap|set|update|replace)\s+(?:the\s+|my\s+)?(?:sign-?off|sign\s+off|closing|close|"
       rf"valediction)\s+(?:to|into|with|for)\s+{_QV}",
       rf"\buse\s+{_QV_AS_SIGN_OFF}\s+as\s+"
       rf"(?:the\s+|a\s+|my\s+)?(?:sign-?off|closing)",
       rf"\b(?:end|close|finish|wrap(?:\s+it)?\s+up)\s+(?:the\s+email\s+|it\s+)?with\s+{_QV}")
def _sign_off(m: re.Match[str]) -> list[Request] | None:
    value = _value(m)
    low = value.lower()
    if not _quoted(m) and re.search(r"\b(?:question|call|demo|link|reply|meeting|chat|ask|cta|p\.?s\.?|postscript|"
                                    r"sentence|line|paragraph|trial|pilot|calendar)\b", low):
        return None  # "end with a question / a link / a P.S.": not a sign-off
    ends = re.match(r"(?:end|close|finish|wrap)", m.group(0).strip(), re.I)  # not "sign off with …"
    if ends and (value.rstrip().endswith("?") or (len(value.split()) > 6 and "," not in value and "\n" not in value)):
        return None  # "end with 'Worth a quick chat next week?'": a closing line (_cta_exact), not a sign-off
    only_name = re.match(r"^(?:just|only)\s+(?:my\s+)?name\s*[,:]?\s*(?P<name>.*)$", value, re.I)
    if only_name:  # "sign off with just my name, Dana": no sign-off word, the name as the signature
        name = _text(only_name.group("name"))
        return _req("sign_off", "", m) + ([Request("signature", cap(name), " ".join(m.group(0).split()))] if name else [])
    sign_off, signature = _split_sign_off(value)
    out: list[Request] = []
    if sign_off:
        out += _req("sign_off", sign_off.rstrip(","), m)
    if signature:
        out += _req("signature", signature, m)
    return out or None


@_rule(rf"\bsign(?:\s+it|\s+the\s+email|\s+this|\s+off)?(?:\s+as|\s+with|\s+from|\s+by)?\s+(?:my\s+name,?\s+)?"
       rf"(?:{_Q}|{_NAME}(?P<rest>,[^.;!?\n]{{1,80}}?|\s+(?:from|at)\s+(?-i:[A-Z])[\w&.'-]*"
       rf"(?:\s+(?-i:[A-Z])[\w&.'-]*){{0,2}})??{_END})",
       rf"\b(?:signature|signed)\s*(?::|=|should\s+be|as|by)?\s*,?\s*(?:{_Q}|{_NAME}(?P<rest>,[^.;!?\n]{{1,80}}?)??{_END})",
       rf"\bmy\s+name\s+is\s+{_NAME}",
       rf"\badd\s+my\s+name\s*(?:\(|:|,)?\s*{_NAME}\)?",
       rf"\b(?:it'?s|it\s+is|this\s+is|coming|email\s+is)\s+from\s+{_NAME}(?=\s*(?:[.;!?\n,]|$))",
       r"\bsign\s+(?:it|the\s+email)\s+(?:as\s+|with\s+)?(?P<lower>(?!(?:off|out|that|this|please|again|up|so|like|"
       r"with|as|my|me|the|it|too|now|then|and|by|for|from|properly|differently|accordingly)\b)[a-z][\w'-]{1,30})"
       r"(?=\s*(?:[.,;!?\n]|$|\s+(?:and|please)\b))")
def _signature(m: re.Match[str]) -> list[Request] | None:
    if _quoted(m):
        sign_off, signature = _split_sign_off(_value(m))
        out = _req("sign_off", sign_off, m) if sign_off else []
        return out + (_req("signature", signature, m) if signature else []) or None
    if m.groupdict().get("lower"):
        return _req("signature", _text(m.group("lower").capitalize()), m)
    name = m.group("name")
    if name.split()[0].lower() in ("off", "it", "the", "my", "as", "with"):
        return None
    rest = ""
    try:
        rest = m.group("rest") or ""
    except IndexError:
        pass
    return _req("signature", _text(name + rest), m)


# --- greeting (leaving it out is a "remove" of the greeting: see _remove_item)
_GREETING = r"(?:greeting|salutation)"


@_rule(rf"\b(?:add|put|bring|include|use|restore)\s+(?:back\s+)?(?:a\s+|the\s+)?{_GREETING}(?:\s+line)?(?:\s+back)?\b",
       rf"\b(?:start|open|begin)\s+(?:it\s+|the\s+email\s+|the\s+draft\s+)?with\s+(?:a\s+|the\s+)?{_GREETING}\b",
       rf"\b(?:i|we)\s+(?:want|need)\s+(?:a\s+|the\s+){_GREETING}(?:\s+back)?\b")
def _greeting(m: re.Match[str]) -> list[Request]:
    return _req("greeting", True, m)


# --- personalization (before the tone rules: "more personal" is about the lead, not the voice)
_PERSONAL = r"(?:personali[sz]ed|personal|tailored|customi[sz]ed|specific\s+to\s+(?:each|the)\s+(?:lead|prospect|reader))"


_MORE = r"(?:more|further|a\s+(?:bit|lot)\s+more|better|to\s+(?:each|the)\s+(?:lead|prospect|reader)|per\s+lead)"


# "personalize it (more)", "tailor it to each lead"; not "we tailor suits for lawyers" (an offer)
@_rule(rf"\b(?:personali[sz]e|tailor|customi[sz]e)\s+(?:(?:it|this|the\s+(?:email|draft|message|opener|hook))"
       rf"(?:\s+{_MORE})?|{_MORE})\b",
       rf"\b(?:more|extra|deeper|better)\s+(?:{_PERSONAL}|personali[sz]ation)\b",
       rf"\b(?:add|needs?|want|use)\s+(?:some\s+|more\s+|a\s+bit\s+of\s+|a\s+little\s+)?personali[sz]ation\b",
       rf"\b(?:too|very|so|feels?|reads?|sounds?)\s+(?:a\s+bit\s+|pretty\s+|really\s+)?(?:generic|template-?y|"
       rf"templated|impersonal|mass-?produced|like\s+a\s+template)\b",
       rf"\b(?:less|not\s+so)\s+(?:generic|impersonal|templated)\b",
       rf"\b(?P<off>less\s+{_PERSONAL}|no\s+(?:more\s+)?personali[sz]ation|(?:don'?t|do\s+not)\s+personali[sz]e(?:\s+it)?)\b")
def _personal(m: re.Match[str]) -> list[Request]:
    return _req("personal", not m.groupdict().get("off"), m)


# --- language
_LANGUAGE = r"(?P<lang>" + "|".join(_LANGUAGES) + r")(?![\w-])"
_WHOLE = r"(?:it|this|that|the\s+(?:email|draft|message|body|whole\s+(?:thing|email)|copy))"


@_rule(rf"\b(?:write|rewrite|redo|draft|do|make|put|have|send|give\s+me)\s+(?:{_WHOLE}\s+)?(?:in|into)\s+{_LANGUAGE}",
       # "write a cold email in German to CFOs about Ledgerly": the words before "in" stay for the brief
       rf"\b(?P<keep>(?:write|draft|send)\s+an?\s+(?:[\w-]+\s+){{0,2}}?(?:email|message|intro|follow-?up))\s+(?:in|into)\s+"
       rf"{_LANGUAGE}",
       rf"\btranslate\s+(?:{_WHOLE}\s+)?(?:in)?to\s+{_LANGUAGE}",
       rf"\b(?:switch|change|go)\s+(?:the\s+language\s+|{_WHOLE}\s+)?(?:back\s+)?to\s+{_LANGUAGE}",
       rf"\blanguage\s*(?::|=|should\s+be)\s*{_LANGUAGE}",
       rf"{_GO}(?:(?:back\s+)?in|into|back\s+to)\s+{_LANGUAGE}(?=\s*(?:please\b|pls\b)?\s*(?:[.;!?\n]|$))",
       rf"(?:^|(?<=[.;!?\n]))\s*{_LANGUAGE}\s+(?:please|pls)\b")
def _language(m: re.Match[str]) -> list[Request]:
    return _req("language", m.group("lang").capitalize(), m)


# --- P.S.
_PS = r"(?:p\.\s?s\.?|p\.?s\.|ps\b|postscript|post-script)"


@_rule(rf"\b(?:add|include|end\s+with|finish\s+with|put|append|throw\s+in|close\s+with|with)\s+(?:a|an|the|one)?\s*{_PS}"
       rf"(?:\s*(?P<how>about|on|mentioning|saying|that\s+says|that|with|:|-|to\s+say)\s*{_QV})?",
       rf"(?:^|(?<=[\s.,;]))(?P<how>{_PS})\s*:\s*{_QV}")
def _ps(m: re.Match[str]) -> list[Request]:
    value = _value(m)
    if not value:
        return _req("ps", "about:", m)  # a P.S. with nothing said about what: the writer picks one
    how = (m.group("how") or "").lower()
    if how in ("about", "on", "mentioning") and not _quoted(m):
        return _req("ps", "about:" + _text(value), m)
    return _req("ps", _text(value), m)


# --- where the call to action stands (before the opener rules: "lead with the ask" is about the ask)
_ASK_NOUN = r"(?:cta|call[- ]to[- ]action|the\s+ask|ask|the\s+close)"


@_rule(rf"\b(?:move|put|bring|place|shift|pull)\s+(?:the\s+|your\s+)?{_ASK_NOUN}\s+(?:further\s+|a\s+bit\s+|much\s+)?"
       rf"(?:up|higher|earlier|first|sooner|forward|to\s+the\s+top|near(?:er)?\s+the\s+top|before\s+the\s+proof|"
       rf"right\s+after\s+the\s+(?:offer|value\s+prop(?:osition)?|pitch)|after\s+the\s+(?:offer|value\s+prop(?:osition)?|"
       rf"pitch))\b",
       rf"\b(?:ask|get\s+to\s+the\s+ask)\s+(?:much\s+)?(?:earlier|sooner)\b",
       rf"\b(?:lead|open|start)\s+with\s+(?:the\s+)?(?:ask|cta|call[- ]to[- ]action)\b",
       rf"\b{_ASK_NOUN}\s+(?:comes|is|sits|appears)\s+(?:far\s+|way\s+|much\s+)?too\s+(?:late|far\s+down|low)\b",
       rf"\b(?:move|put|bring|place|shift)\s+(?:the\s+|your\s+)?{_ASK_NOUN}\s+back\s+(?:(?:to|at)\s+the\s+(?:end|bottom)|"
       rf"down|where\s+it\s+was)\b(?P<back>)",
       rf"\b(?:put|move|keep)\s+(?:the\s+|your\s+)?{_ASK_NOUN}\s+(?:at|to)\s+the\s+(?:end|bottom)\b(?P<back2>)")
def _cta_early(m: re.Match[str]) -> list[Request]:
    back = "back" in m.groupdict() or "back2" in m.groupdict()
    return _req("cta_early", not back, m)


# --- urgency: "make it more urgent", "add some urgency" (once "not understood"): the ask gets a nearer date;
# a deadline the user did not give is never made up
@_rule(r"\b(?:make|sound|be|feel)\s+(?:it\s+|the\s+(?:email|draft|cta|ask)\s+|this\s+)?(?:a\s+bit\s+|slightly\s+|much\s+|"
       r"way\s+)?(?:more\s+urgent|more\s+time[- ]sensitive|urgent)\b",
       r"\b(?:add|create|build|inject|give\s+it|convey|with)\s+(?:some\s+|a\s+(?:bit\s+of\s+|little\s+|sense\s+of\s+)|more\s+|a\s+"
       r"touch\s+of\s+)?(?:urgency|time\s+pressure)\b",
       r"\b(?:more|some)\s+urgency\b",
       r"\b(?:it\s+)?(?:needs|lacks|has\s+no)\s+(?:any\s+|some\s+|more\s+)?urgency\b",
       r"\b(?:less|not\s+so|not\s+as)\s+urgent\b(?P<calm>)",
       r"\b(?:no|remove\s+the|drop\s+the|less|without)\s+(?:the\s+)?urgency\b(?P<calm2>)",
       r"\b(?:ask\s+to\s+meet|meet|talk)\s+(?:sooner|asap|this\s+week)\b")
def _urgency(m: re.Match[str]) -> list[Request]:
    calm = "calm" in m.groupdict() or "calm2" in m.groupdict()
    return _req("urgency", not calm, m)


# --- a follow-up: "write a follow-up email" (once "not understood"); the session's own email becomes one
_FOLLOW_NOUN = (r"(?:(?:follow[- ]?up|followup)(?:\s+(?:email|e-mail|message|note))?|"
                r"(?:second|2nd|next)\s+(?:email|e-mail|message))")  # "make the second paragraph …" is not one


@_rule(rf"\b(?:write|draft|make|turn|compose|do|rewrite)\s+(?:me\s+|us\s+)?(?:it|this|this\s+(?:email|one)|the\s+(?:email|draft))?\s*"
       rf"(?:into\s+|as\s+)?(?:a|an|the)\s+(?:short\s+|quick\s+|polite\s+)?{_FOLLOW_NOUN}\b",
       rf"\b(?:this|it)\s+(?:is|should\s+be|needs\s+to\s+be)\s+(?:a|the)\s+{_FOLLOW_NOUN}\b(?!\s+(?:on|to|about)\b)",
       rf"\b(?:this|it)\s+(?:is|should\s+be)\s+(?:not\s+a\s+follow[- ]?up|the\s+first\s+(?:email|message|touch))\b(?P<first>)",
       r"\bnot\s+a\s+follow[- ]?up\b(?P<first2>)")
def _follow_up(m: re.Match[str]) -> list[Request] | None:
    first = "first" in m.groupdict() or "first2" in m.groupdict()
    return _req("follow_up", not first, m)


# --- plain words: "simplify the language", "use simpler words" (once "not understood")
_PLAIN_WORDS = r"(?:language|wording|words|vocabulary|phrasing|english)"


@_rule(rf"\b(?:simplify|simplifying)\s+(?:the\s+|its\s+|your\s+)?{_PLAIN_WORDS}\b",
       rf"\b(?:simpler|plainer|easier|everyday|plain|simple)\s+(?:and\s+\w+\s+)?{_PLAIN_WORDS}\b",
       r"\b(?:make|keep)\s+(?:it|the\s+(?:email|draft|wording))\s+(?:a\s+bit\s+|much\s+)?(?:simpler\s+to\s+read|easier\s+to\s+"
       r"(?:read|understand|follow)|less\s+complicated|plainer)\b",
       r"\b(?:dumb\s+it\s+down|no\s+(?:fancy|big)\s+words|fewer\s+(?:fancy|big)\s+words|avoid\s+(?:fancy|big)\s+words)\b",
       rf"\b(?:too\s+(?:complicated|complex|wordy)\s+(?:language|wording|words))\b",
       rf"\b(?:the\s+)?{_PLAIN_WORDS}\s+(?:is|are|feels?|sounds?)\s+(?:too\s+|a\s+bit\s+|very\s+)?(?:complicated|complex|fancy|"
       rf"convoluted|jargon-?y|corporate)\b",
       # once a more direct tone ("no jargon") or nothing ("avoid jargon"); the jargon is what goes
       r"\b(?:no|less|avoid|without|too\s+much|fewer|(?:cut(?:\s+out)?|drop|lose|remove|get\s+rid\s+of)(?:\s+all)?(?:\s+the)?)"
       r"\s+(?:business\s+|corporate\s+|marketing\s+)?(?:jargon|buzzwords?)\b",
       r"\b(?:jargon|buzzwords?)-?free\b")
def _plain(m: re.Match[str]) -> list[Request]:
    return _req("plain", True, m)


# --- opener / hook
_OPENER_WORDS = r"(?:hook|opener|opening(?:\s+line|\s+sentence)?|first\s+(?:line|sentence)|intro(?:\s+line)?|lead[- ]in)"


def _opener_value(value: str, quoted: bool, m: re.Match[str]) -> list[Request] | None:
    if quoted:
        return _req("opener_exact", clip_words(clean(value, keep=_ANY_VAR), 240), m)
    low = value.lower()
    question = re.match(r"^(?:a\s+)?(?:quick\s+|short\s+)?question(?:\s+(?:about|on|around|regarding))?\s*(?P<t>.*)$", low)
    asking = re.match(r"^asking(?:\s+them)?(?:\s+(?:about|how|whether|if))?\s+(?P<t>.+)$", low)
    if question or asking:
        topic = value[len(value) - len((question or asking).group("t")):].strip()  # type: ignore[union-attr]
        out = _req("opener_question", True, m)
        return out + ([Request("opener", _text(strip_determiner(topic) if topic.lower().startswith("the ") else topic),
                               out[0].said)] if topic else [])
    if re.match(r"^(?:a|the)\s+(?:call|demo|link|reply|p\.?s\.?)\b", low):
        return None
    value = re.sub(r"^(?:mentioning|talking about|referencing|a (?:line|note|sentence|hook|comment) (?:about|on)|"
                   r"noting|highlighting|something (?:about|on)|a mention of|the topic of|how|reference|mention|"
                   r"talk about|focus on|be about|highlight|cover|address|point to|call out)\s+", "", value, flags=re.I)
    return _req("opener", _text(value), m)


_QV_AS_OPENER = _QV.replace(_END, r"(?=\s+as\s+(?:the\s+|an?\s+)?" + _OPENER_WORDS + ")")


@_rule(rf"\b(?:open|start|begin|lead|kick\s+(?:it\s+)?off)\s+(?:the\s+(?:email|message|draft|body)\s+|it\s+|things\s+|"
       rf"this\s+)?(?:with|by|on)\s+{_QV}",
       rf"\b(?:the\s+)?{_OPENER_WORDS}\s+(?:should\s+(?:be\s+)?|needs\s+to\s+be\s+|must\s+be\s+|could\s+be\s+|has\s+to\s+be\s+)?"
       rf"(?:about|on|around|focus(?:ed)?\s+on)\s+{_QV}",
       rf"\b{_OPENER_WORDS}\s*:\s*{_QV}",
       rf"\b(?:make|change|switch|set|rewrite)\s+the\s+{_OPENER_WORDS}\s+(?:to\s+be\s+about|about|to|into|on)\s+{_QV}",
       rf"\buse\s+{_QV_AS_OPENER}\s+as\s+(?:the\s+|an?\s+)?"
       rf"{_OPENER_WORDS}",
       # "make the opening line less salesy and more about their quarter": the words between stay for the others
       rf"\b(?:the\s+)?{_OPENER_WORDS}\s+(?P<keep>(?:[^.;!?\n]){{1,60}}?)\s+(?:and\s+)?more\s+about\s+{_QV}")
def _opener(m: re.Match[str]) -> list[Request] | None:
    var = None if _quoted(m) else _as_variable(_value(m))
    if var:  # "open with their first name", "start with %company%": a variable, not a topic
        return _variable_in_opener(var, m)
    return _opener_value(_value(m), _quoted(m), m)


def _variable_in_opener(var: str, m: re.Match[str]) -> list[Request]:
    """The variable is wanted (again) at the top: the first name's place there is the greeting line; the
    company and role are in the generated opener whenever the campaign allows them."""
    out = _req("variable", f"%{var}%", m)
    return out + [Request("greeting", True, out[0].said)] if var == "first_name" else out


_QV_IN_OPENER = _QV.replace(_END, r"(?=\s+(?:in|into|to|at)\s+(?:the\s+)?(?:very\s+)?" + _OPENER_WORDS + ")")


# "mention our Series B in the first line", "use their company name in the opener": what the opener is about
# (once read as a fact for the proof: "It is also worth mentioning our company in the opener.")
@_rule(rf"{_GO}(?:mention|include|add|use|put|reference|name|insert|work\s+in|bring\s+up|talk\s+about)\s+"
       rf"{_QV_IN_OPENER}\s+(?:in|into|to|at)\s+(?:the\s+)?(?:very\s+)?{_OPENER_WORDS}\b")
def _in_opener(m: re.Match[str]) -> list[Request] | None:
    var = None if _quoted(m) else _as_variable(_value(m))
    if var:
        return _variable_in_opener(var, m)
    if _quoted(m):  # a quoted line to work into the opener: the opener, word for word
        return _opener_value(_value(m), True, m)
    return _opener_value(strip_determiner(_value(m)) if _value(m).lower().startswith("the ") else _value(m), False, m)


# "use their company name again", "bring %first_name% back": a variable left out earlier is wanted again
@_rule(rf"{_GO}(?:use|include|mention|bring\s+back|put\s+back|add\s+back|restore)\s+(?P<v>[%\w' ]{{2,40}}?)"
       rf"\s+(?:again|back)\b",
       rf"{_GO}(?:bring|put|add)\s+(?P<v>[%\w' ]{{2,40}}?)\s+back\b",
       rf"{_GO}(?:bring|put|add)\s+back\s+(?P<v>[%\w' ]{{2,40}}?){_END}")
def _variable_back(m: re.Match[str]) -> list[Request] | None:
    var = _as_variable(m.group("v"))
    return _req("variable", f"%{var}%", m) if var else None


# "ask about their current tool", "ask them how they onboard new reps", "ask whether they use Salesforce": a
# question to open with ("ask them for a call", "ask them to reply" are the call to action, read later)
@_rule(rf"{_GO}ask\s+(?:them\s+|the\s+(?:reader|lead|prospect)\s+)?(?P<how>about|how|whether|if)\s+{_V}")
def _ask_question(m: re.Match[str]) -> list[Request] | None:
    how, value = m.group("how").lower(), _value(m)
    if how in ("if", "whether") and _WANTS.search(value):  # "ask if they want more info": the ask, as a question
        phrase = cta_phrase(value) or "reply"
        return _req("cta", phrase, m) + [Request("cta_style", "question", " ".join(m.group(0).split()))]
    if how == "about":
        return _req("opener_question", True, m) + [Request("opener", _text(value), " ".join(m.group(0).split()))]
    question = _their_question(how, value)
    return _req("opener_exact", question, m) if question else None


_WANTS = re.compile(r"^they(?:'d|\s+would|\s+are|'re)?\s+(?:want|like|be\s+interested|interested|be\s+open|open|up\s+for|"
                    r"keen)\b.*"
                    r"\b(?:info|information|details|more|learn|demo|call|chat|meeting|hear|walkthrough|trial|pilot)\b", re.I)


def _their_question(how: str, clause: str) -> str | None:
    """"how" + "they onboard new reps" -> "How do you onboard new reps?"; "whether" + "they are hiring" ->
    "Are you hiring?"; None for a clause not about "they" (its verb would need agreeing)."""
    m = re.match(r"^they(?:'re|\s+are)\s+(?P<rest>.+)$|^they\s+(?P<verb>[a-z]+)\s*(?P<obj>.*)$", clause.strip(), re.I)
    if not m:
        return None
    if m.group("rest"):
        body = f"are you {m.group('rest')}"
        return cap(to_you(f"how {body}" if how == "how" else body)) + "?"
    verb = m.group("verb").lower()
    if verb.endswith("ed") or verb in ("had", "will", "would", "can", "could", "should", "did", "were"):
        return None  # "they hired", "they can …": not worth guessing the question
    rest = " ".join(x for x in (verb, m.group("obj")) if x)
    return cap(to_you(f"{'how do' if how == 'how' else 'do'} you {rest}")) + "?"


# --- a plainer opener: "the opener sounds fake", "the first line feels forced" (once "not understood"). The
# generated opener is a placeholder; what reads as fake is what fills it (a compliment, a guess at the reader's
# priorities), so the placeholder asks for the reason for writing and a fact one can check instead.
_FAKE = (r"(?:fake|forced|phon(?:e)?y|insincere|cheesy|cringe(?:y|worthy)?|cringy|contrived|over[- ]the[- ]top|creepy|"
         r"presumptuous|fawning|disingenuous|made[- ]up|awkward|try-?hard|flattering|too\s+flattering|like\s+flattery|"
         r"like\s+(?:it'?s\s+)?trying\s+too\s+hard|unnatural|not\s+(?:genuine|authentic|sincere|believable|natural|real))")
_REAL = r"(?:genuine|authentic|sincere|believable|natural|honest|real|plain|down[- ]to[- ]earth)"


@_rule(rf"\b(?:the\s+|this\s+|that\s+|your\s+)?{_OPENER_WORDS}\s+(?:is|sounds|feels|reads|seems|looks|comes\s+(?:across|off))"
       rf"(?:\s+as)?(?:\s+(?:a\s+bit|a\s+little|too|so|very|really|kind\s+of|kinda|pretty|super|way\s+too|rather|"
       rf"quite|somewhat|totally))*\s+{_FAKE}\b",
       rf"\b{_FAKE}(?:-sounding)?\s+{_OPENER_WORDS}\b",
       rf"\b(?:make|keep|write)\s+(?:the\s+|your\s+)?{_OPENER_WORDS}\s+(?:a\s+bit\s+|much\s+|more\s+|less\s+)*"
       rf"(?:{_REAL}|(?:less\s+)?(?:fake|forced|cheesy|salesy|flattering|presumptuous))\b",
       rf"\b(?:a\s+)?(?:more\s+)?{_REAL}\s+{_OPENER_WORDS}\b",
       r"\b(?:no|less|cut\s+the|drop\s+the|lose\s+the|without\s+(?:the\s+)?)\s*(?:fake\s+)?(?:flattery|compliments?|"
       r"fake\s+familiarity|sucking\s+up|buttering\s+(?:them\s+)?up)\b",
       r"\b(?:don'?t|do\s+not|stop)\s+(?:flatter(?:ing)?|compliment(?:ing)?|sucking\s+up\s+to|butter(?:ing)?\s+up)\s+"
       r"(?:them|the\s+(?:reader|lead|prospect))\b",
       r"\b(?:don'?t|do\s+not|stop)\s+pretend(?:ing)?\s+(?:to\s+know\s+them|(?:that\s+)?(?:we|you|i)\s+(?:know\s+them|"
       r"(?:have|'ve)\s+met))\b")
def _opener_plain(m: re.Match[str]) -> list[Request]:
    return _req("opener_plain", True, m)


# "try a different angle" (once not understood): the next way to open, in turn (see _next_angle)
@_rule(r"(?<!\bwe\s)(?<!\bi\s)(?<!\bthey\s)\b(?:try|take|use|give\s+(?:me|it)|need|want|go\s+(?:with|for)|from|with)\s+"
       r"(?:a\s+|an\s+|some\s+)?(?:different|other|another|new|fresh)\s+(?:angle|approach|take(?:\s+on\s+it)?)\b"
       r"(?!\s+(?:to|that|which|of|on)\b)",
       r"\b(?:a\s+|an\s+)?(?:different|another|fresh)\s+(?:angle|approach)(?:\s+please)?(?=\s*(?:[,;.!?\n]|$))",
       r"\bchange\s+the\s+(?:angle|approach)\b")
def _angle(m: re.Match[str]) -> list[Request]:
    return _req("angle", True, m)


# --- quoted sentences, and "add a deadline: offer ends Friday", "add a line: setup takes one afternoon" (the words
# after the colon are the sentence: once "It is also worth mentioning a deadline: offer ends Friday.")
@_rule(rf"\b(?:add|include|insert|append|put\s+in|work\s+in|use|say|write|throw\s+in)\s+(?:the\s+|this\s+|a\s+|one\s+)?"
       rf"(?:(?:sentence|line|bit|phrase)\s*:?\s*)?{_Q}",
       rf"{_GO}(?:add|include|insert|append|put\s+in|work\s+in|mention|say)\s+(?:the\s+|this\s+|a\s+|an\s+|one\s+|our\s+)?"
       r"(?:(?:real\s+|hard\s+)?deadline|sentence|line|note|fact|detail|point|reminder)\s*:\s*"
       r"(?P<v>[^\s.;!?\n](?:[^;!?\n]|\.(?=\S)){1,240}?)(?=\s*(?:[;!?\n]|\.(?:\s|$)|$))")
def _sentence(m: re.Match[str]) -> list[Request] | None:
    value = clean(_value(m), keep=_ANY_VAR)
    if len(value.split()) < 2:
        return None
    return _req("sentence", clip_words(value, 240) if _quoted(m) else cap(clip_words(value, 240)), m)


# "but keep the subject", "don't change the subject", "keep everything else": what is not asked to change stays as
# it is anyway; said, it is not a request the reply should call not understood
@_rule(rf"\b(?:but\s+|and\s+)?(?:keep|leave|don'?t\s+(?:change|touch))\s+(?:the\s+|my\s+)?(?:{_SUBJECT}|rest|"
       r"everything\s+else|the\s+rest|body|greeting|sign-?off|ask|cta)(?:\s+(?:as\s+(?:it\s+)?is|the\s+same|unchanged|"
       r"intact|alone))?(?=\s*(?:[,;.!?\n]|$|\s+(?:and|but|then)\b))")
def _keep_as_is(m: re.Match[str]) -> list[Request]:
    return []


# --- how the call to action asks (before the tone rules: "less pushy CTA" is about the ask, not the tone)
_ASK = r"(?:cta|call[- ]to[- ]action|the\s+ask|ask|the\s+close|closing\s+(?:line|ask)|last\s+line)"
_KIND_OF_QUESTION = r"(?:(?:simple\s+|quick\s+|short\s+)?(?:yes[/-]no|yes[- ]or[- ]no|closed|one-word)\s+)?"
_SOFT = (r"(?:softer|gentler|less\s+pushy|less\s+aggressive|less\s+salesy|lower[- ]commitment|"
         r"low[- ](?:pressure|commitment|key)|more\s+low[- ]key|no[- ]pressure)")


@_rule(rf"\b(?:end|finish|close)\s+(?:it\s+|the\s+email\s+|the\s+draft\s+|off\s+)?(?:with|on)\s+a\s+question\b(?!\s+mark)",
       r"\b(?:add|put|ask|use|include)\s+a\s+question\s+(?:at|to)\s+the\s+(?:end|close|bottom)\b",
       rf"\b(?:make|turn|phrase|word|change)\s+the\s+{_ASK}\s+(?:into\s+|as\s+|to\s+)?a\s+{_KIND_OF_QUESTION}question\b",
       rf"\b{_ASK}\s+(?:as|should\s+be|in\s+the\s+form\s+of)\s+a\s+{_KIND_OF_QUESTION}question\b",
       rf"\b{_SOFT}\s+{_ASK}\b(?P<soft>)",
       rf"\bsoft\s+{_ASK}\b(?P<soft2>)",
       rf"\b{_ASK}\b{_WITHIN}\b(?:{_SOFT}|too\s+(?:pushy|strong|aggressive|salesy|much|hard))\b(?P<soft3>)",
       rf"\b{_ASK}\s+(?:feels|is|sounds|seems|reads|comes\s+across\s+as)\s+(?:a\s+bit\s+|a\s+little\s+|kind\s+of\s+|very\s+|"
       rf"so\s+|pretty\s+)?(?:pushy|aggressive|salesy|demanding|needy|desperate)\b(?P<soft4>)",
       rf"\b(?:stronger|more\s+direct|firmer|harder|bolder)\s+{_ASK}\b(?P<plain>)")
def _cta_style(m: re.Match[str]) -> list[Request]:
    groups = m.groupdict()
    if "plain" in groups:
        return _req("cta_style", "", m)
    soft = any(name in groups for name in ("soft", "soft2", "soft3", "soft4"))
    return _req("cta_style", "soft" if soft else "question", m)


# --- call to action
_DURATION = re.compile(r"\b(\d{1,3})\s*-?\s*(?:min(?:ute)?s?|m)\b|\b(half\s+an?\s+hour|an?\s+hour)\b", re.I)
_CTA_NOUN = re.compile(r"\b(?P<noun>demo|walk-?through|product tour|tour|call|phone call|phone|zoom|chat|meeting|meet|"
                       r"coffee|trial|pilot|audit|assessment|consultation|reply|respond|response|write back|answer|"
                       r"link|calendar|calendly|booking page|scheduling page)\b", re.I)
_CTA_ADJ = re.compile(r"\b(quick|short|brief|intro|introductory|free|discovery|video)\b", re.I)
_URL = re.compile(r"https?://[^\s\"'<>()]+[^\s\"'<>().,;!?]")


def cta_phrase(text: str) -> str | None:
    """The call to action a phrase asks for: "15-minute demo", "quick call", "reply", "link"; None when none."""
    noun = _CTA_NOUN.search(text)
    if not noun:
        return None
    word = noun.group("noun").lower()
    if word in ("reply", "respond", "response", "write back", "answer"):
        return "reply"
    if word in ("link", "calendar", "calendly", "booking page", "scheduling page"):
        return "link"
    word = {"walkthrough": "demo", "walk-through": "demo", "product tour": "demo", "tour": "demo", "zoom": "call",
            "phone call": "call", "phone": "call", "meet": "meeting", "coffee": "chat"}.get(word, word)
    duration = _DURATION.search(text[: noun.start()])
    adjective = _CTA_ADJ.search(text[: noun.start()])
    parts = []
    if duration:
        minutes = duration.group(1) or ("30" if "half" in duration.group(2).lower() else "60")
        parts.append(f"{int(minutes)}-minute")
    if adjective and not (duration and adjective.group(1).lower() in ("quick", "short", "brief")):
        parts.append(adjective.group(1).lower())
    parts.append(word)
    return " ".join(parts)


def _cta(value: str, m: re.Match[str]) -> list[Request] | None:
    phrase = cta_phrase(value)
    if not phrase:
        return None
    out = _req("cta", phrase, m)
    url = _URL.search(value)
    return out + [Request("link", url.group(0), out[0].said)] if url else out


# "don't ask for a demo" (once the demo, read from the brief's "ask for a demo"): the least the email can ask
@_rule(r"(?<!\bwe\s)(?<!\bi\s)(?<!\bthey\s)\b(?:don'?t|do\s+not|never|no\s+need\s+to|stop)\s+(?:ask(?:ing)?\s+(?:them\s+)?for|offer(?:ing)?|suggest(?:ing)?|"
       r"propos(?:e|ing)|push(?:ing)?(?:\s+for)?|book(?:ing)?)\s+(?:a|an|the)\s+(?:\d{1,3}[- ]?min(?:ute)?s?\s+)?"
       r"(?:quick\s+|short\s+|free\s+)?(?:demo|call|meeting|chat|trial|pilot|walkthrough)\b")
def _no_meeting(m: re.Match[str]) -> list[Request]:
    return _req("cta", "reply", m)


# "end with 'Worth a quick chat?'", "end with: Open to a chat next week?": the closing line, word for word (a
# sign-off in quotes, "end with 'Cheers, Tom'", was read by the sign-off rule before this one)
@_rule(rf"\b(?:end|close|finish)\s+(?:the\s+email\s+|it\s+|off\s+)?(?:with|on)\s*(?::\s*)?{_Q}",
       r"\b(?:end|close|finish)\s+(?:the\s+email\s+|it\s+|off\s+)?(?:with|on)\s*:\s*(?P<v>[^\n]{3,200}?[?.!])(?=\s|$)",
       rf"\b(?:cta|call[- ]to[- ]action|closing\s+line|last\s+line)\s*(?::|=|should\s+be)\s*{_Q}")
def _cta_exact(m: re.Match[str]) -> list[Request] | None:
    value = clean(_value(m), keep=_ANY_VAR)
    if len(value.split()) < 3 or re.match(r"^(?:a|an|the)\s+(?:question|call|demo|link|reply|p\.?s)\b", value, re.I):
        return None  # "CTA: 'demo'", "end with: a question": the kind of ask, read by the rules below
    return _req("cta_exact", clip_words(value, 240), m)


@_rule(rf"\b(?:change|switch|make|set|update|turn)\s+the\s+(?:cta|call[- ]to[- ]action|ask|close|closing\s+ask)\s+"
       rf"(?:to|into|a|an)\s+{_V}",
       # "change the demo to a 15-minute call", "replace the call with a demo", "swap the demo for a chat"
       rf"\b(?:change|switch|swap|turn|make|replace)\s+the\s+(?:\d{{1,3}}[- ]?min(?:ute)?s?\s+)?(?:demo|call|meeting|chat|"
       rf"trial|pilot|walkthrough)\s+(?:to|into|for|with)\s+{_V}",
       rf"\b(?:cta|call[- ]to[- ]action|the\s+ask)\s*(?::|=|should\s+be|is\s+now|to\s+be)\s*{_V}",
       rf"{_GO}ask\s+(?:them\s+|the\s+(?:reader|lead|prospect)\s+|people\s+|for\s+(?=a|an|the)\s*)?(?:for|to)?\s*{_V}",
       rf"\b(?:invite|get|push|nudge|send)\s+(?:them|the\s+reader|people|the\s+lead)\s+(?:to|for|toward|towards)\s+{_V}",
       rf"\b(?:offer|suggest|propose|go\s+for|push\s+for)\s+(?P<v>(?:a|an)\s+(?:\d{{1,3}}[- ]?min(?:ute)?s?\s+)?"
       rf"(?:quick\s+|short\s+|brief\s+|intro\s+|free\s+)?(?:call|demo|meeting|chat|trial|pilot|walkthrough))\b",
       rf"\b(?:end|close|finish)\s+(?:the\s+email\s+|it\s+)?with\s+(?P<v>(?:a|an)\s+(?:\d{{1,3}}[- ]?min(?:ute)?s?\s+)?"
       rf"(?:quick\s+|short\s+|brief\s+)?(?:call|demo|meeting|chat|link|reply|request\s+for\s+a\s+reply)"
       rf"(?:[^.;!?\n]|\.(?=\S)){{0,80}})",
       rf"\b(?:link\s+to|include|add|use|put\s+in|point\s+them\s+to)\s+(?P<v>(?:my|our|a|the)\s+(?:calendar|calendly|booking|"
       rf"scheduling|meeting)\s*(?:link|page|url)?(?:[^.;!?\n]|\.(?=\S)){{0,80}})",
       rf"\bjust\s+(?P<v>(?:a\s+)?reply)\b",
       rf"\b(?:reply|response)\s+(?:cta|instead)\b(?P<v>)")
def _cta_rule(m: re.Match[str]) -> list[Request] | None:
    if re.search(r"(?:n't|\bnot|\bnever)\s+$", m.string[:m.start()], re.I):
        return None  # "we don't offer a free trial": a fact, not the ask
    value = _value(m) or m.group(0)
    return _cta(value, m)


@_rule(r"\b(?:instead\s+of|rather\s+than|not)\s+(?:a|an|the)\s+(?:\d{1,3}[- ]?min(?:ute)?s?\s+)?(?:quick\s+|short\s+)?"
       r"(?:demo|call|meeting|chat|trial|pilot|link)\b")
def _instead_of(m: re.Match[str]) -> list[Request]:
    return []  # "instead of a demo, ask for a call": the new ask is read by the CTA rules


@_rule(r"(?P<v>" + _URL.pattern + ")")
def _link(m: re.Match[str]) -> list[Request]:
    return [Request("cta", "link", m.group(0)), Request("link", m.group(0), m.group(0))]


# --- removals
_TRAILING_ADVERBS = re.compile(r"(?:\s+(?:anymore|any\s+more|please|again|either|too|as\s+well|altogether|entirely|"
                               r"completely|at\s+all|anywhere|from\s+(?:the|this|my)\s+(?:email|draft|body|message)|"
                               r"(?:in|from)\s+(?:the|this)\s+(?:email|draft|body|message)(?:\s+or\s+(?:the\s+)?subject)?))+$",
                               re.I)
_REMOVE_VERBS = (r"(?:remove|drop|delete|cut|lose|take\s+out|get\s+rid\s+of|leave\s+out|strip(?:\s+out)?|omit|skip|"
                 r"kill|ditch|scrap|nix)")


@_rule(rf"{_GO}{_REMOVE_VERBS}\s+(?:the\s+|that\s+|this\s+|any\s+|all\s+|my\s+|our\s+|those\s+|these\s+)?{_QV}",
       rf"\b(?:don'?t|do\s+not|stop|no\s+longer|never)\s+(?:mention|mentioning|talk\s+about|talking\s+about|bring\s+up|"
       rf"cite|citing|include|including|reference|referencing|use|using)\s+(?:the\s+|our\s+|any\s+)?{_QV}",
       rf"{_GO}no\s+(?:more\s+)?(?P<v>p\.?\s?s\.?|ps|postscript|signature|sign-?off|greeting|salutation|placeholders|"
       rf"variables|merge\s+(?:fields|tags)|"
       rf"case\s+stud(?:y|ies)|proof(?:\s+point)?|hook|opener|opening\s+line|mention\s+of\s+[^.;!?\n]{{1,80}}?)"
       rf"(?=\s*(?:[.;!?\n,]|$|\s+(?:and|please)\b))",
       rf"\bwithout\s+(?:the\s+|a\s+|any\s+)?(?P<v>p\.?\s?s\.?|postscript|signature|sign-?off|greeting|salutation|"
       rf"case\s+study|proof\s+point|hook|opener)\b",
       # "take the case study out", "I don't want the P.S.", "no need for the Salesforce line"
       rf"{_GO}(?:take|leave|cut|strip)\s+(?:the\s+|that\s+|this\s+|our\s+|my\s+)(?P<v>p\.\s?s\.?|(?:[^.;,!?\n]|\.(?=\S)){{1,80}}?)\s+out\b",
       rf"\b(?:i|we)\s+(?:don'?t|do\s+not)\s+(?:want|need)\s+(?:the\s+|a\s+|any\s+|that\s+|this\s+|our\s+)?{_QV}",
       rf"\b(?:i'?d|i\s+would|we'?d|we\s+would)\s+(?:rather|prefer)\s+(?:not\s+(?:to\s+)?)(?:mention|include|talk\s+about|bring\s+up|"
       rf"use|cite)\s+(?:the\s+|our\s+|any\s+)?{_QV}",
       rf"\bno\s+need\s+for\s+(?:the\s+|a\s+|any\s+|that\s+|this\s+|our\s+)?{_QV}")
def _remove(m: re.Match[str]) -> list[Request] | None:
    value = _value(m)
    low = value.lower()
    if not _quoted(m) and re.match(r"^(?:it|this|the email|the body|the draft|it down|words|the length|the fluff|fluff|"
                                   r"the intro short|the small talk|back|down|it short)\b", low):
        return None
    if not _quoted(m) and re.search(r"\b(?:shorter|in half|by half|words?|length)\b", low):
        return None
    # "take out the line about onboarding" names a whole line, even the offer's ("don't mention onboarding" does not)
    whole_line = not _quoted(m) and re.match(r"^(?:line|sentence|paragraph|section|part|bit)s?\s+", value, re.I) is not None
    target = re.sub(r"^(?:(?:line|sentence|part|bit|paragraph|mention|reference|section|stuff|thing|claim|point)s?\s+"
                    r"(?:about|on|of|mentioning|that\s+mentions|that\s+says|with|regarding|referencing)\s+)", "",
                    value, flags=re.I)
    target = re.sub(r"^(?:mention|reference)\s+(?:of|to)\s+", "", target, flags=re.I)
    target = strip_determiner(target) if not _quoted(m) else target
    if not _quoted(m):  # "don't mention SOC 2 anymore": the trailing words are not part of what to remove
        target = _TRAILING_ADVERBS.sub("", target).strip()
    if not target:
        return None
    # "remove the signature and the proof", "the line about DHL and the P.S.": two things, when one of them is
    # a part of the email ("the line about sales and marketing" stays one target)
    targets = [target]
    if not _quoted(m):
        parts = [p for p in _AND.split(target) if p]
        if len(parts) > 1 and any(_EMAIL_PART.fullmatch(p) for p in parts):
            targets = parts
        more = _AND_PART.match(m.string, m.end())  # "remove the P.S. and the proof": the value stopped at "P.S."
        if more:
            targets.append(more.group("v"))
    out: list[Request] = []
    for i, item in enumerate(targets):
        item = clip_words(clean(item, keep=_ANY_VAR), VALUE_CHARS)
        if i == 0 and whole_line and not _EMAIL_PART.fullmatch(item):
            item = WHOLE_LINE + item
        out += _req("remove", item, m)
    return out


WHOLE_LINE = "line about "  # a "remove" target that names a whole line, whatever else the line says


_EMAIL_PART = re.compile(r"(?:the\s+)?(?:p\.?\s?s\.?|ps|postscript|signature|sign-?off|greeting|salutation|opener|hook|"
                         r"proof(?:\s+points?)?|case\s+stud(?:y|ies)|bullets|bullet\s+points)", re.I)
_AND = re.compile(r"\s+and\s+(?:also\s+)?(?:the\s+|that\s+|my\s+|our\s+)?", re.I)
_AND_PART = re.compile(r"\.?\s+and\s+(?:also\s+)?(?:the\s+)?(?P<v>" + _EMAIL_PART.pattern + r")(?=\s*(?:[.;!?,\n]|$))",
                       re.I)


# --- mentions, proof points, case studies
# a place in the email named after the thing: the rules for that place read it, or nobody does
_PLACED = re.compile(r"\b(?:to|in|into|at|on)\s+the\s+(?:greeting|salutation|subject(?:\s+line)?|sign-?off|signature|"
                     r"opener|opening(?:\s+line)?|intro|first\s+(?:line|sentence)|cta|call\s+to\s+action|p\.?s\.?|"
                     r"top|beginning|start)\s*$")
_AT_THE_END = re.compile(r"\s+(?:(?:at|near|towards?)\s+the\s+(?:end|bottom)|(?:right\s+|just\s+)?before\s+the\s+(?:cta|"
                         r"call[- ]to[- ]action|ask|close|sign-?off)|after\s+the\s+(?:offer|value\s+prop(?:osition)?|"
                         r"pitch))\s*$", re.I)  # where mentions go anyway
# "add urgency", "add emojis": how to write, not a fact to mention
_STYLE_NOUN = re.compile(r"^(?:a\s+|an\s+)?(?:urgency|sense\s+of\s+urgency|emojis?|emoticons?|humou?r|jokes?|personality|"
                         r"energy|excitement|enthusiasm|flair|pizzazz|sparkle|punch|fomo|scarcity|curiosity|clarity|"
                         r"creativity|style|flow|warmth|empathy|hooks?|catchy\s+\w+|exclamation\s+(?:marks?|points?))\s*$")


# "add a compliment about their company": a line about something real of theirs (the personalized opener), not a
# fact of ours to state
_COMPLIMENT = re.compile(r"^(?:a\s+|an\s+|some\s+|one\s+)?(?:(?:genuine|sincere|short|quick|small|specific)\s+)?"
                         r"(?:compliments?|praise|kudos|congratulations|congrats|shout-?out)\b")


@_rule(rf"{_GO}(?:mention|include|add|highlight|talk\s+about|bring\s+up|reference|cite|point\s+out|work\s+in|squeeze\s+in|"
       rf"throw\s+in|call\s+out|weave\s+in|note|say)\s+(?:that\s+)?{_V}",
       # "use the Acme case study: they cut ramp time by 40%" (once "they cut …", and "use the Acme" not understood)
       rf"{_GO}(?:use|add|include|cite|mention)\s+(?:the\s+|our\s+)?(?P<who>[\w&.'-]+(?:\s+[\w&.'-]+)?)\s+case\s+study\s*:"
       rf"\s*{_QV}",
       rf"\b(?:case\s+study|proof(?:\s+point)?|social\s+proof)\s*:\s*{_QV}")
def _mention(m: re.Match[str]) -> list[Request] | None:
    value = _value(m)
    who = m.groupdict().get("who")
    if who:  # a customer's case study: their result, said of them
        value = re.sub(r"^they\b", who, value, flags=re.I) if re.match(r"^they\b", value, re.I) else \
            value if who.lower() in value.lower() else f"{value} at {who}"
    low = value.lower()
    if re.match(r"^(?:a|an|the|one|some)?\s*(?:p\.?s\.?|postscript|question|link|call|demo|cta|signature|sign-?off|"
                r"name|my name|my\s+(?:job\s+)?title|my\s+role|my\s+position|detail|details|context|"
                r"more(?!\s+(?:social\s+)?proof\b)|personali[sz]ation|variables?|greeting|"
                r"back)\b", low):
        return None
    if _COMPLIMENT.match(low):  # once "It is also worth mentioning a compliment about their company."
        out = _req("personal", True, m)
        return out + [Request("opener_plain", False, out[0].said)]
    if re.match(r"^(?:some|more|extra|any|a\s+(?:bit|touch|little|dash|hint)\s+(?:of\s+|more\s+)?)(?!\s*(?:social\s+)?proof\b|\s*"
                r"(?:customer\s+)?(?:numbers|stats|statistics|data|metrics|figures|results|testimonials|quotes|reviews|"
                r"logos)\b)", low):
        return None  # "add some sparkle": a quality, not something to mention
    if _STYLE_NOUN.match(low):
        return None  # "add urgency", "add emojis": how to write, not a fact to mention
    value = _AT_THE_END.sub("", value)
    low = value.lower()
    v = m.start("v") if m.groupdict().get("v") else -1  # "add that it starts at $49": a clause, "it" the product
    that_clause = v > 0 and re.search(r"\bthat\s*$", m.string[max(0, v - 8):v], re.I) is not None
    if (re.match(r"^(?:it|this|that|them)\b", low) and not (that_clause and low.startswith("it "))) or _PLACED.search(low):
        return None  # "say it in fewer words", "add their job title to the greeting": not a fact to state
    if re.search(r"\s(?:to|in|into|on)\s+(?:it|that|this|them)$", low):
        return None  # "add their company name to it": which "it" is not said here
    value = re.sub(r"^(?:our|the|that\s+we\s+have|a\s+(?:line|sentence|note|word|mention)\s+(?:about|on|of)|"
                   r"something\s+(?:about|on)|a\s+mention\s+of|a\s+reference\s+to|mention\s+of)\s+", "", value,
                   flags=re.I)
    value = re.sub(r"^(?:our|the)\s+", "", value, flags=re.I)
    if re.match(r"^case\s+stud(?:y|ies)\s*:", value, re.I):
        value = "case study " + value.split(":", 1)[1].strip()
    if re.match(r"case\s+study", m.group(0), re.I) and "case stud" not in value.lower() and len(value.split()) < 3:
        value = f"case study with {value}"
    text = _text(value)
    return _req("mention", text, m) if len(text) >= 2 else None


# --- start over (once not understood): the brief stays, every change asked for since goes
@_rule(rf"{_GO}(?:(?:let'?s|we\s+should|can\s+we|i\s+want\s+to)\s+)?(?:start|begin)\s+(?:all\s+)?(?:over|again|afresh|fresh|"
       r"from\s+scratch)\b",
       rf"{_GO}(?:redo|rewrite|write)\s+(?:it|this|the\s+(?:email|draft))\s+from\s+scratch\b",
       rf"{_GO}(?:reset|undo)\s+(?:everything|all\s+(?:the|my)\s+changes|all\s+of\s+it|the\s+whole\s+thing)\b",
       rf"{_GO}forget\s+(?:everything|all\s+(?:the|my)\s+(?:changes|edits|feedback)|(?:my|the)\s+(?:earlier|previous)\s+"
       r"(?:changes|edits|feedback|requests))\b",
       r"\b(?:fresh\s+start|clean\s+slate)\b")
def _start_over(m: re.Match[str]) -> list[Request]:
    return _req("start_over", True, m)


# --- tone
_TONE_WORDS = {
    "casual": r"casual|informal|relaxed|conversational|laid[- ]back|chill(?:er)?|looser|loose|breezy|chatty|chattier|"
              r"natural|human",
    "formal": r"formal|professional|polished|businesslike|buttoned[- ]up|serious|respectful|proper",
    "warm": r"warm(?:er)?|friendl(?:y|ier)|kind(?:er)?|personable|empathetic|gentler|gentle|softer|soft|nicer|"
            r"approachable|caring",
    "direct": r"direct|punch(?:y|ier)|blunt(?:er)?|bold(?:er)?|assertive|confident|straightforward|crisp(?:er)?|"
              r"sharp(?:er)?|to\s+the\s+point|decisive",
}
_OPPOSITE = {"casual": "formal", "formal": "casual", "warm": "direct", "direct": "warm"}
# Words that only appear as complaints: "too stiff" means "more casual".
_COMPLAINTS = {"stiff": "casual", "stuffy": "casual", "robotic": "casual", "corporate": "casual", "rigid": "casual",
               "cold": "warm", "pushy": "warm", "aggressive": "warm", "salesy": "warm", "harsh": "warm",
               "transactional": "warm", "soft": "direct", "vague": "direct", "wishy-washy": "direct",
               "passive": "direct", "fluffy": "direct", "timid": "direct", "chummy": "formal", "slangy": "formal",
               "sloppy": "formal", "familiar": "formal"}
_ALL_TONE = "|".join(f"(?P<{k}>{v})" for k, v in _TONE_WORDS.items())
_INTENSIFIER = r"(?:more|a\s+(?:bit|little|touch|lot)\s+more|bit\s+more|much\s+more|way\s+more|slightly|very|super|extra|" \
               r"really|quite)"


@_rule(rf"\b(?P<neg>less|not\s+(?:so|as|too)|too|overly|way\s+too|a\s+bit\s+too|so)\s+(?:{_ALL_TONE}|"
       rf"(?P<complaint>{'|'.join(_COMPLAINTS)}))\b",
       rf"\b(?:feels?|sounds?|reads?|seems?|comes\s+across(?:\s+as)?|it'?s|is)\s+(?:a\s+bit\s+|a\s+little\s+|kind\s+of\s+|"
       rf"very\s+|pretty\s+|quite\s+|rather\s+|super\s+)?(?P<complaint>{'|'.join(_COMPLAINTS)})\b",
       rf"\b(?:less|no|without\s+the|cut\s+the|drop\s+the|lose\s+the)\s+(?P<fluff>fluff|filler|small\s+talk|pleasantries|"
       rf"jargon|buzzwords|hype)\b")
def _tone_inverted(m: re.Match[str]) -> list[Request] | None:
    if m.groupdict().get("fluff"):
        return _req("tone", "direct", m)
    if m.groupdict().get("complaint"):
        return _req("tone", _COMPLAINTS[m.group("complaint").lower()], m)
    kind = next(k for k in _TONE_WORDS if m.group(k))
    if m.group("neg").lower() == "so":
        return _req("tone", kind, m)
    return _req("tone", _OPPOSITE[kind], m)


@_rule(rf"\b(?:{_INTENSIFIER}\s+)(?:{_ALL_TONE})\b",
       rf"\b(?:sound|feel|keep\s+it|make\s+it|make\s+this|make\s+the\s+(?:email|tone|draft)|be|go|write\s+it|rewrite\s+it|"
       rf"redo\s+it|tone\s*(?::|to|should\s+be)?|in\s+a|use\s+a)\s+(?:(?:a\s+(?:bit|little)\s+|more\s+|super\s+|very\s+)?)"
       rf"(?:{_ALL_TONE})\b",
       rf"\b(?:{_ALL_TONE})\s+(?:tone|voice|style|feel|vibe|register|version|please|instead)\b",
       r"\b(?P<warm>warmer|friendlier|kinder|nicer)\b|\b(?P<direct>punchier|blunter|bolder|crisper|sharper)\b|"
       r"\b(?P<casual>looser|chattier|chiller)\b",
       r"(?:^|(?<=[.,;!?\n]))\s*(?:{})\s*(?:please|pls)?\s*(?=[.,;!?\n]|$)".format(_ALL_TONE),
       r"\b(?P<direct>get\s+to\s+the\s+point|cut\s+to\s+the\s+chase|be\s+more\s+concrete)\b",
       r"\b(?P<casual>loosen\s+(?:it|this|the\s+tone)\s+up|like\s+a\s+(?:human|person|friend|real\s+person)\s+"
       r"(?:wrote|would\s+write|talking)|sound\s+(?:more\s+)?like\s+a\s+(?:human|person|peer|colleague|friend)(?:\s+(?:than|and\s+not|not)\s+an?\s+"
       r"(?:vendor|salesperson|sales\s+rep|seller|robot|bot|marketer))?|"
       r"(?:less|not)\s+like\s+a\s+(?:vendor|salesperson|sales\s+rep|robot|bot)|"
       r"(?:write|sound)\s+(?:it\s+)?(?:like|as\s+if)\s+(?:you'?re|you\s+are|i'?m|i\s+am|we'?re)\s+(?:talking|writing|speaking)"
       r"\s+to\s+a\s+(?:friend|colleague|peer))\b")
def _tone(m: re.Match[str]) -> list[Request] | None:
    kind = next((k for k in _TONE_WORDS if m.groupdict().get(k)), None)
    return _req("tone", kind, m) if kind else None


# "make it sound like it's from a founder" (once not understood): a founder writes plainly and to the point
@_rule(r"\b(?:sound|sounds|read|reads|write\s+it|make\s+it\s+sound|make\s+it\s+read)\s+(?:more\s+)?(?:like\s+(?:it'?s\s+|it\s+is\s+|it\s+was\s+|"
       r"it\s+came\s+)?|as\s+if\s+it'?s\s+)?(?:from|by|as|written\s+by)\s+(?:a|the|our|my)\s+(?:co-?)?(?:founder|ceo)\b",
       r"\b(?:founder|ceo)(?:'s)?\s+(?:voice|tone|style)\b",
       r"\b(?:like|as)\s+(?:a|the)\s+(?:co-?)?founder\s+(?:would\s+write|wrote|writing|talking)\b")
def _founder(m: re.Match[str]) -> list[Request]:
    out = _req("tone", "casual", m)
    return out + [Request("tone", "direct", out[0].said)]


@_rule(r"\b(?:neutral|normal|default|standard|original|usual)\s+tone\b|\breset\s+the\s+tone\b|\bback\s+to\s+the\s+"
       r"(?:original|default|normal)\s+tone\b")
def _tone_reset(m: re.Match[str]) -> list[Request]:
    return _req("tone", "neutral", m)


# --- length
@_rule(r"\b(?:no|remove\s+the|drop\s+the|without\s+a|forget\s+the)\s+(?:word\s+)?(?:limit|cap|word\s+count)\b")
def _no_limit(m: re.Match[str]) -> list[Request]:
    return _req("max_words", None, m)


@_rule(r"\b(?P<op>under|below|less\s+than|fewer\s+than|no\s+more\s+than|not\s+more\s+than|at\s+most|max(?:imum)?|up\s+to|"
       r"within|around|about|roughly|cap(?:\s+it)?\s+at|limit(?:\s+it)?\s+to|keep\s+it\s+(?:to|at|under|below|around)|"
       r"trim(?:\s+it)?\s+to|cut(?:\s+it)?\s+to|shorten(?:\s+it)?\s+to|get\s+it\s+(?:to|under|below)|bring\s+it\s+"
       r"(?:to|under|down\s+to))\s+(?P<n>\d{1,4})\s*(?:-\s*)?words?\b",
       r"\b(?P<n>\d{1,4})\s*(?:-\s*)?words?\s+(?P<op>max(?:imum)?|or\s+less|or\s+fewer|tops|at\s+most|limit|cap|long|total)\b",
       r"\b(?P<n>\d{1,4})-word\s+(?:limit|max(?:imum)?|cap|email|version|body|draft)\b",
       r"\bword\s+(?:limit|count|cap)\s*(?:of|:|=|to|at|should\s+be)?\s*(?P<n>\d{1,4})\b")
def _max_words(m: re.Match[str]) -> list[Request] | None:
    n = int(m.group("n"))
    op = (m.groupdict().get("op") or "").lower()
    if re.match(r"(?:under|below|less|fewer|get\s+it\s+(?:under|below)|keep\s+it\s+(?:under|below)|bring\s+it\s+under)",
                op):
        n -= 1  # "under 80 words" is at most 79
    return _req("max_words", n, m) if 10 <= n <= 1000 else None


@_rule(r"\b(?:much|way|a\s+lot|far|significantly|drastically)\s+(?:shorter|more\s+concise|tighter|briefer)\b|"
       r"\bhalf\s+the\s+length\b|\b(?:cut|trim)\s+(?:it|this|the\s+email|the\s+body)\s+(?:in|by)\s+half\b|"
       r"\bway\s+too\s+long\b")
def _much_shorter(m: re.Match[str]) -> list[Request]:
    return _req("shorter", 2, m)


@_rule(r"\b(?:shorter|shorten(?:\s+it|\s+this|\s+the\s+email)?|too\s+long|more\s+concise|concise|briefer|brief|tighter|"
       r"tighten(?:\s+it|\s+this)?(?:\s+up)?|trim(?:\s+it|\s+this|\s+the\s+email|\s+the\s+body)?(?:\s+down)?|"
       r"cut\s+(?:it|this|the\s+email|the\s+body)\s+down|cut\s+the\s+length|less\s+wordy|too\s+wordy|condense(?:\s+it)?|"
       r"fewer\s+words|snappier|keep\s+it\s+short|make\s+it\s+short|reduce\s+the\s+length|too\s+verbose|leaner|"
       r"pare\s+(?:it\s+)?down|too\s+much\s+text|tl;?dr)\b")
def _shorter(m: re.Match[str]) -> list[Request]:
    return _req("shorter", 1, m)


@_rule(r"\b(?:longer|too\s+short|more\s+detail(?:ed|s)?|expand(?:\s+on\s+it|\s+it)?|elaborate|flesh\s+(?:it\s+|this\s+)?out|"
       r"add\s+(?:more\s+)?(?:detail|details|context)|more\s+context|fuller|beef\s+(?:it\s+)?up|undo\s+the\s+shortening)\b")
def _longer(m: re.Match[str]) -> list[Request]:
    return _req("longer", 1, m)


@_rule(r"\b(?:one|single|1|a\s+single)\s+paragraph\b|\bin\s+one\s+(?:block|paragraph)\b|\bno\s+(?:paragraph\s+)?breaks\b|"
       r"\bmerge\s+(?:the\s+)?paragraphs\b|\bas\s+a\s+single\s+block\b")
def _one_paragraph(m: re.Match[str]) -> list[Request]:
    return _req("one_paragraph", True, m)


_BULLETS = r"(?:an?\s+)?(?:bullets|bullet(?:ed)?(?:\s*-?\s*points?|\s+list)?|(?:short\s+)?list(?:\s+form)?)\b"


@_rule(rf"\b(?:use|add|with|in|into|as|put\s+(?:it|them|the\s+(?:benefits|points|value|proof)(?:\s+points?)?)\s+(?:in|into|as)|"
       rf"make\s+(?:it|them|the\s+(?:benefits|points|body))(?:\s+into)?|turn\s+(?:it|them|the\s+\w+)\s+into|format\s+"
       rf"(?:it|the\s+\w+)\s+(?:as|with|in))\s+(?:some\s+)?{_BULLETS}(?!\s+of\b)",
       rf"\bbullet(?:ize|ise)?\s+(?:the\s+)?(?:it|them|benefits|points|value|proof)\b",
       rf"\b(?P<off>(?:no|without|remove\s+the|drop\s+the|lose\s+the|get\s+rid\s+of\s+the)\s+(?:bullet(?:ed)?(?:\s*points?|\s+list)?|"
       rf"bullets)|(?:as|back\s+to)\s+(?:normal\s+)?prose)\b")
def _bullets(m: re.Match[str]) -> list[Request]:
    return _req("bullets", not m.groupdict().get("off"), m)


@_rule(r"\b(?:split|break)\s+(?:it|this|the\s+email|the\s+body|the\s+paragraph)\s+(?:up|into\s+(?:several\s+|more\s+|short\s+)?"
       r"paragraphs)\b|\bmore\s+paragraphs\b|\bseparate\s+paragraphs\b|\b(?:add\s+)?paragraph\s+breaks\b")
def _paragraphs(m: re.Match[str]) -> list[Request]:
    return _req("one_paragraph", False, m)


# --- the brief: audience, offer, call to action, focus (statements as much as requests)
_ROLE = (r"(?:VPs?|heads?|directors?|managers?|founders?|co-?founders?|CTOs?|CEOs?|CFOs?|CMOs?|CROs?|COOs?|CISOs?|CIOs?|"
         r"engineers?|leaders?|recruiters?|marketers?|owners?|executives?|buyers?|teams?|reps?|operators?|admins?|"
         r"administrators?|officers?|partners?|consultants?|agencies|agency|clinics?|dentists?|doctors?|lawyers?|"
         r"accountants?|analysts?|developers?|designers?|planners?|coordinators?|specialists?|people|professionals?|"
         r"startups?|companies|firms?|businesses|restaurants?|retailers?|brands?|stores?|shops?|schools?|"
         r"universities|hospitals?|SMBs?|SMEs?|enterprises?|customers?|users?|sellers?|merchants?|landlords?|"
         r"investors?|brokers?|agents?|nonprofits?|non-profits?|principals?|teachers?|plumbers?|contractors?|"
         r"electricians?|nurses?|therapists?|coaches?|physicians?|pharmacists?|architects?|realtors?|landscapers?|"
         r"photographers?|freelancers?|gyms?|salons?|hotels?|manufacturers?|distributors?|suppliers?|vendors?|"
         r"creators?|clinicians?|CPAs?|CHROs?)")
# "of Sales", "at SaaS companies": up to two prepositional phrases of up to three words each.
_ROLE_TAIL = (r"(?:\s+(?:of|in|at|for|from)\s+[A-Za-z0-9&/-]+(?:\s+(?!(?:of|in|at|for|from|who|that|which|and|or|to|"
              r"with|about|on|by|emphasi[sz]\w*|focus\w*|we|our|i)\b)[A-Za-z0-9&/-]+){0,2}){0,2}")
_AUDIENCE_LOOSE = re.compile(
    r"\b(?:for|to|targeting|targets?|aimed\s+at|reach(?:ing)?)\s+"
    r"(?P<v>(?!(?:a|an|me|my|us|you|your)\b)(?:[A-Za-z0-9&/-]+\s+){0,4}" + _ROLE + _ROLE_TAIL + r")\b", re.I)
# A message that starts with the audience: "VPs of Sales at SaaS companies; offer: …".
_AUDIENCE_LEADING = re.compile(
    r"^\s*(?:(?:for|to)\s+)?(?P<v>(?:(?!(?:for|to|of|in|at|with|about)\b)[A-Za-z0-9&/-]+\s+){0,3}" + _ROLE + _ROLE_TAIL
    + r")\s*[;:,.\n]",
    re.I)
_AUDIENCE_EXPLICIT = re.compile(
    r"\b(?:(?:change|switch|set|update)\s+the\s+(?:audience|target(?:\s+audience)?|reader|persona|icp)\s+to|"
    r"(?:target\s+)?audience\s*(?::|=|is|should\s+be)|(?:persona|icp)\s*(?::|=)|write\s+(?:it|this)\s+for|"
    r"aim\s+(?:it|this)\s+at|address\s+it\s+to|pitch\s+(?:it|this)\s+to|target\s*:|target)\s+" + _V, re.I)
# Where a brief's offer ends when the next field follows after a comma: "…by 40%, cta reply".
_NEXT_FIELD = (r",\s*(?=(?:cta|call\s+to\s+action|goal|audience|target|tone|ask\s+(?:for|them)|(?:we\s+|i\s+)?(?:want|need|"
               r"would\s+like|are\s+looking\s+for|looking\s+for|hoping\s+for)\s+(?:a|an|them)\b)\b)")
_OFFER = re.compile(
    r"\b(?:(?<!can\s)(?<!could\s)(?<!should\s)(?<!would\s)(?<!shall\s)(?<!may\s)(?<!might\s)(?<!do\s)(?<!did\s)"
    r"we(?:\s+now|\s+actually|\s+also)?\s+(?:sell|offer|provide|make|build|built|run)|our\s+(?:product|offer|tool|"
    r"platform|service|app|company)\s+is|(?:the\s+)?offer(?:ing)?(?:\s+is)?\s*:|(?:the\s+)?offer(?:ing)?\s+is|"
    r"(?:change|switch|set|update)\s+the\s+(?:offer|product|pitch)\s+to|selling|pitching(?=\s+(?-i:[A-Z]))|(?:the\s+)?product\s*:)\s+"
    r"(?P<v>.{3,160}?)\s*(?:[;!?\n]|\.(?:\s|$)|$|\s+instead\b|" + _NEXT_FIELD + ")"
    r"|\b(?P<clause>we\s+(?:help|let|enable|get)\s+.{3,160}?)\s*(?:[;!?\n]|\.(?:\s|$)|$|" + _NEXT_FIELD + ")", re.I)
# "Write a cold email to CFOs about Ledgerly, our spend tool for fleets": the product a new email is about
# (a name or "our …"; "an email about saving time" names a theme, not an offer; "the email about X is too
# long" speaks of the draft, not of a new offer).
_OFFER_ABOUT = re.compile(
    r"(?:^\s*|\b(?:write|draft|compose|create|prepare|need|want)\s+(?:me\s+|us\s+)?)(?:(?:a|an)\s+)?"
    r"(?:(?:cold|intro|first|outbound|short|quick|sales)\s+)*(?:email|e-mail|message|note|outreach)\b[^.?!\n]{0,80}?"
    r"\babout\s+(?P<v>(?:our\s+|(?-i:[A-Z]))[^.?!;\n]{2,160}?)\s*(?:[;!?\n]|\.(?:\s|$)|$|" + _NEXT_FIELD + ")", re.I)
_OFFER_UPDATE = re.compile(r"\b(?:now|actually|instead|anymore|change|switch|update)\b", re.I)
_OFFER_CHANGE = re.compile(r"\b(?:change|switch|set|update)\s+the\s+(?:offer|product|pitch)\s+to\s+[^;!?\n]*", re.I)
_CTA_BRIEF = re.compile(
    r"\b(?:cta|call\s+to\s+action|goal|ask(?:\s+them)?|book|schedule|get\s+them\s+to|want\s+them\s+to)\b[^.?!\n]{0,40}?"
    r"\b(?P<v>(?:\d+[- ]?min(?:ute)?s?\s+)?(?:quick\s+|short\s+|free\s+|intro\s+)?"
    r"(?:demo|call|meeting|chat|trial|pilot|reply))\b", re.I)
# "Want a 20-min call.": the ask right after the verb ("we want to follow up on the call we had" asks nothing).
_CTA_WANT = re.compile(
    r"\b(?:want|would\s+like|looking\s+for|aim(?:ing)?\s+for|hoping\s+for)\s+(?:a|an)\s+"
    r"(?P<v>(?:\d+[- ]?min(?:ute)?s?\s+)?(?:quick\s+|short\s+|free\s+|intro\s+)?"
    r"(?:demo|call|meeting|chat|trial|pilot|reply))\b", re.I)
_FOCUS = re.compile(
    r"\b(?:emphasi[sz]e|emphasi[sz]ing|focus(?:ing|ed)?\s+on|stress(?:ing)?|lean(?:ing)?\s+(?:in)?to|lean(?:ing)?\s+on|"
    r"cent(?:er|re)(?:ed)?\s+(?:it\s+)?on|with\s+(?:an\s+)?emphasis\s+on|the\s+angle\s+(?:is|should\s+be)|angle\s*:|"
    r"make\s+(?:it|the\s+email|this)\s+(?:all\s+)?about|play\s+up|put\s+the\s+focus\s+on)\s+" + _V, re.I)


_BRIEF_PATTERNS = (
    ("audience", _AUDIENCE_EXPLICIT, ("audience", "target", "persona", "icp", "write it", "write this", "aim", "address",
                                      "pitch")),
    ("audience", _AUDIENCE_LEADING, ()),
    ("audience", _AUDIENCE_LOOSE, ("for ", "to ", "target", "aim", "reach")),
    ("offer", _OFFER, ("we ", "our ", "offer", "selling", "product", "pitch")),
    ("offer", _OFFER_ABOUT, ("about",)),
    ("cta", _CTA_BRIEF, ("cta", "call to action", "goal", "ask", "book", "schedule", "get them", "want them")),
    ("cta", _CTA_WANT, ("want", "would like", "looking for", "aim", "hoping")),
    ("focus", _FOCUS, ("emphasi", "focus", "stress", "lean", "cent", "angle", "about", "play up")),
)


_NOT_AN_OFFER = re.compile(r"^(?:(?:it|this|that|them|these|those|sure|sense|one|the\s+(?:email|draft|subject|opener|"
                           r"cta|change|changes))\b|[^A-Za-z]*$)", re.I)


def _before_audience(text: str, span: tuple[int, int], found: list[tuple[int, int, Request]]) -> str:
    """An offer without the audience clause it ran into: "Rampwise, a platform that …, to VPs of Sales"
    gives "Rampwise, a platform that …" (the audience is its own request). Only a clause set off by a
    comma is cut: "payroll software to restaurant owners" is an offer that names who it is for."""
    value = text[span[0]:span[1]]
    for start, _, request in found:
        if request.kind == "audience" and span[0] < start < span[1]:
            head = text[span[0]:start].rstrip()
            if head.endswith(","):
                value = head.rstrip(" ,")
    return value.strip()


def _brief(text: str) -> list[tuple[int, int, Request]]:
    """Audience, offer, CTA and focus statements; each pattern reads the whole remaining text."""
    found: list[tuple[int, int, Request]] = []
    low = text.lower()
    change = _OFFER_CHANGE.search(text) if "offer" in low or "product" in low or "pitch" in low else None
    for kind, pattern, triggers in _BRIEF_PATTERNS:
        if any(r.kind == kind for _, _, r in found) or (triggers and not any(t in low for t in triggers)):
            continue
        m = pattern.search(text)
        if not m:
            continue
        if pattern is _AUDIENCE_LOOSE and change and change.start() <= m.start() < change.end():
            continue  # "change the offer to X for new reps" changes the offer, not the audience
        value = (m.group("v") or m.groupdict().get("clause") or "").strip()
        if kind == "offer" and m.group("v"):
            value = _before_audience(text, m.span("v"), found)
            if _NOT_AN_OFFER.match(value):
                continue  # "we make it shorter", "we make ?" (what the other rules left of a request)
        said = " ".join(m.group(0).split())
        if kind == "cta":
            value = cta_phrase(value) or ""
        elif kind == "focus":
            value = _text(re.sub(r"^(?:the|our)\s+", "", value, flags=re.I))
        else:
            value = _text(value)
            if kind == "audience":
                value = re.sub(r"^the\s+", "", value, flags=re.I)
        if value:
            found.append((m.start(), m.end(), Request(kind, value, said)))
            if kind == "offer" and m.group("v") and _OFFER_UPDATE.search(m.group(0)):
                # "We now sell X, an AI tutor for new reps": a new offer says who uses it ("for …"); the audience
                # stays. ("We now sell X to HR directors" does name a new audience.)
                v_start, v_end = m.span("v")
                found = [f for f in found if not (f[2].kind == "audience" and v_start < f[0] < v_end
                                                  and f[2].said.lower().startswith("for "))]
    return found


# --------------------------------------------------------------------------------------- parsing

_FILLER = frozenset("""please pls can could would you make it the a an email draft this that and also just thanks thank
ok okay great good nice perfect now i we want like love it's its looks look so bit little more version let's lets maybe
too very really some with for to of in on me my lgtm yes yeah hi hey cool again do is be should feel free but then
plus overall here there version one tweak tweaks edit edits change changes update whole body text message copy bit
slightly sure it'd i'd we'd you're that's well actually all right alright awesome amazing thx ty much lot way
write intro outreach first sequence lead leads prospect prospects them they their our us
""".split())
_WORD = re.compile(r"[a-z0-9%'&-]+", re.I)


@dataclass(frozen=True)
class Parsed:
    requests: tuple[Request, ...]
    unmatched: str  # what no pattern claimed, when it has words that look like an instruction


_BLANKS = re.compile(r"[^\S\n]+")  # whitespace but newlines
_NEWLINE_RUN = re.compile(r"\n\s*")


def _one_space(text: str) -> str:
    """Every run of whitespace as one space, or one newline when it holds one. The patterns allow any
    whitespace between words, and several of them (a clause start after a newline, ``\\s+`` then ``\\s*``)
    cost the square of a whitespace run's length: a message with 8,000 newlines once took 34 s to parse.
    Each substitution here consumes what it matches, so both are linear."""
    return _NEWLINE_RUN.sub("\n", _BLANKS.sub(" ", text)).replace(" \n", "\n")


def _cut(work: str, origin: list[int], cuts: list[tuple[int, int, int, int]]) -> tuple[str, list[int]]:
    """``work`` without what the rules claimed: each ``(start, end, keep_start, keep_end)`` is taken out but
    its kept part, and one space (or newline) stands where the text was joined. Blanking with spaces instead
    made runs of whitespace again ("and" + a claimed request repeated to 8,000 characters + "mention …":
    22 s), so no rule ever sees a run longer than one."""
    pieces: list[tuple[int, int]] = []
    pos = 0
    for start, end, keep_start, keep_end in cuts:
        pieces.append((pos, start))
        if keep_end > keep_start:
            pieces.append((keep_start, keep_end))
        pos = end
    pieces.append((pos, len(work)))
    out: list[str] = []
    where: list[int] = []
    tail = ""  # the last character written
    for a, b in pieces:
        if a >= b:
            continue
        if out:  # a join: one whitespace character between the two sides, a newline if either had one
            head = work[a]
            if tail.isspace() and head.isspace():
                if head == "\n" and tail != "\n":
                    out[-1] = out[-1][:-1] + "\n"
                a += 1
            elif not tail.isspace() and not head.isspace():
                out.append(" ")
                where.append(origin[a])
            if a >= b:
                continue
        out.append(work[a:b])
        where.extend(origin[a:b])
        tail = work[b - 1]
    where.append(origin[len(work)])
    return "".join(out), where


@lru_cache(maxsize=4096)
def parse(message: str) -> Parsed:
    """One user message as typed requests (in the order they were written) plus what was not understood.
    Read up to ``PARSE_CHARS`` characters: what a turn accepts; a longer message can only have been PATCHed
    into a transcript, and each character costs every rule a look (~3 µs)."""
    text = _one_space(normalize(message[:PARSE_CHARS]).translate(_QUOTES))
    work = text
    origin = list(range(len(text) + 1))  # where each character of ``work`` stood in ``text`` (and its end)
    low = text.lower()
    found: list[tuple[int, Request]] = []
    triggered: dict[int, bool] = {}  # per handler, not per pattern: a handler's patterns share its triggers
    for rule in _RULES:
        key = id(rule.triggers)
        if key not in triggered:
            triggered[key] = any(t in low for t in rule.triggers)
        if not triggered[key]:
            continue
        cuts: list[tuple[int, int, int, int]] = []
        for m in rule.pattern.finditer(work):
            if not m.group(0).strip():
                continue
            got = rule.handle(m)
            if got is None:
                continue  # the rule declined: the words stay for the others
            found += [(origin[m.start()], r) for r in got]
            keep = m.span("keep") if "keep" in rule.pattern.groupindex and m.group("keep") else (m.end(), m.end())
            cuts.append((m.start(), m.end(), *keep))
        if cuts:
            work, origin = _cut(work, origin, cuts)
    for start, end, request in _brief(work):  # the last pass: what it leaves is only counted, so blanks do
        found.append((origin[start], request))
        work = work[:start] + " " * (end - start) + work[end:]
    found.sort(key=lambda pair: pair[0])
    leftover = [w for w in _WORD.findall(work) if w.lower() not in _FILLER and len(w) > 1]
    unmatched = " ".join(" ".join(work.split()).strip(" ,.;:!?-").split()) if len(leftover) >= 2 else ""
    return Parsed(requests=tuple(r for _, r in found), unmatched=clip_words(clean(unmatched), 120))


# ------------------------------------------------------------------------------ what stands so far

TONES = ("casual", "formal", "warm", "direct")


@dataclass(frozen=True)
class Standing:
    """Everything the user asked for so far, a later request of a kind replacing an earlier one."""

    audience: str | None = None
    offer: str | None = None
    focus: str | None = None
    cta: str | None = None
    cta_style: str | None = None  # question | soft; None: as the tone words it
    cta_exact: str | None = None  # the closing line as the user wrote it
    cta_early: bool = False  # the call to action right after the offer line
    urgent: bool = False  # the ask for this week rather than next
    plain: bool = False  # business jargon swapped for everyday words
    follow_up: bool = False  # written as a follow-up to an earlier email, without a sequence context too
    link: str | None = None
    register: str | None = None  # casual | formal
    manner: str | None = None  # warm | direct
    shorter: int = 0  # how many times "shorter" (minus "longer"), 0..3
    max_words: int | None = None
    one_paragraph: bool = False
    bullets: bool = False  # the value and proof sentences as "- " lines
    sign_off: str | None = None  # None: the tone's default; "": none
    signature: str | None = None  # None / "": none
    no_greeting: bool = False  # the body starts without "Hi %first_name%,"
    language: str | None = None  # None: English
    personal: bool = False  # the per-lead spans ask for a specific, recent detail about the lead
    opener: str | None = None  # a topic
    opener_question: bool = False
    opener_exact: str | None = None
    opener_plain: bool = False  # the generated opener: why you write and a fact one can check, no compliment
    no_opener: bool = False
    subject_style: str | None = None  # question | statement
    subject_short: bool = False
    subject_lower: bool = False
    subject_include: tuple[str, ...] = ()
    subject_exclude: tuple[str, ...] = ()
    subject_exact: str | None = None
    mentions: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()
    ps: str | None = None  # "about:<topic>" or the P.S. text; None: no P.S.
    removed: tuple[str, ...] = ()  # "proof", or words whose sentences to leave out
    no_vars: tuple[str, ...] = ()  # variables to leave out of the whole email ("don't use their company name")
    replacements: tuple[tuple[str, str], ...] = ()

    # ---------------------------------------------------------------- applying requests
    def apply(self, requests: Iterable[Request]) -> Standing:
        state = self
        for request in requests:
            state = _APPLY[request.kind](state, request.value)
        return state

    @property
    def tones(self) -> list[str]:
        return [t for t in (self.register, self.manner) if t]

    # ---------------------------------------------------------------- the prompt form
    def lines(self) -> list[str]:
        """The standing requests as "kind: value" lines, the form the prompt context carries."""
        out: list[str] = []
        add = out.append
        for name in ("audience", "offer", "focus"):
            if getattr(self, name):
                add(f"{name}: {getattr(self, name)}")
        if self.cta:
            add(f"call to action: {self.cta}")
        if self.cta_exact:
            add(f'call to action: exactly "{self.cta_exact}"')
        if self.cta_style:
            add(f"call to action style: {self.cta_style}")
        if self.cta_early:
            add("call to action placement: right after the offer line")
        if self.urgent:
            add("urgency: a time-bound ask (this week), no invented deadline")
        if self.link:
            add(f"link: {self.link}")
        for tone in self.tones:
            add(f"tone: {tone}")
        if self.shorter:
            add(f"length: shorter ({self.shorter} step{'s' if self.shorter > 1 else ''})")
        if self.max_words:
            add(f"length: at most {self.max_words} words")
        if self.one_paragraph:
            add("length: one paragraph")
        if self.bullets:
            add("format: bullet points")
        if self.sign_off is not None:
            add(f"sign-off: {self.sign_off or 'none'}")
        if self.signature is not None:
            add(f"signature: {self.signature or 'none'}")
        if self.no_greeting:
            add("greeting: none")
        if self.language:
            add(f"language: {self.language}")
        if self.plain:
            add("wording: plain, everyday words (no business jargon)")
        if self.follow_up:
            add("sequence: a follow-up to an earlier email")
        if self.personal:
            add("personalization: more")
        if self.no_opener:
            add("opener: none")
        if self.opener_exact:
            add(f'opener: exactly "{self.opener_exact}"')
        if self.opener_question:
            add("opener: a question")
        if self.opener:
            add(f"opener: about {self.opener}")
        if self.opener_plain:
            add(f"opener: {_PLAIN_OPENER_LINE}")
        if self.subject_exact:
            add(f'subject: exactly "{self.subject_exact}"')
        if self.subject_style:
            add(f"subject: {_HOOK_LINE}" if self.subject_style == "hook" else f"subject: a {self.subject_style}")
        if self.subject_short:
            add("subject: short")
        if self.subject_lower:
            add("subject: lowercase")
        for item in self.subject_include:
            add(f"subject: include {item}")
        for item in self.subject_exclude:
            add(f"subject: without {item}")
        for item in self.mentions:
            add(f"include: {item}")
        for item in self.sentences:
            add(f'add sentence: "{item}"')
        if self.ps is not None:
            add(f"P.S.: {self.ps}" if self.ps else "P.S.: none")
        for item in self.removed:
            add(f"leave out: {item}")
        for name in self.no_vars:
            add(f"variables: without %{name}%")
        for old, new in self.replacements:
            add(f'replace: "{old}" with "{new}"')
        return out

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Standing:
        """Read :meth:`lines` back (what the offline model does with the prompt context)."""
        values: dict[str, Any] = {}
        lists: dict[str, list[Any]] = {}
        for line in lines:
            key, _, value = str(line).partition(": ")
            _read_line(key, value, values, lists)
        values.update({k: tuple(v) for k, v in lists.items()})
        return cls(**values)


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _read_line(key: str, value: str, values: dict[str, Any], lists: dict[str, list[Any]]) -> None:
    if key in ("audience", "offer", "focus", "link"):
        values[key] = value
    elif key == "call to action" and value.startswith("exactly "):
        values["cta_exact"] = _unquote(value.removeprefix("exactly "))
    elif key == "call to action":
        values["cta"] = value
    elif key == "call to action style" and value in ("question", "soft"):
        values["cta_style"] = value
    elif key == "call to action placement":
        values["cta_early"] = True
    elif key == "urgency":
        values["urgent"] = True
    elif key == "wording" and value.startswith("plain"):
        values["plain"] = True
    elif key == "sequence" and value.startswith("a follow-up"):
        values["follow_up"] = True
    elif key == "tone" and value in ("casual", "formal"):
        values["register"] = value
    elif key == "tone" and value in ("warm", "direct"):
        values["manner"] = value
    elif key == "length":
        if value.startswith("shorter"):
            digits = re.search(r"\d+", value)
            values["shorter"] = int(digits.group(0)) if digits else 1
        elif value.startswith("at most"):
            values["max_words"] = int(re.search(r"\d+", value).group(0))  # type: ignore[union-attr]
        elif value == "one paragraph":
            values["one_paragraph"] = True
    elif key == "format" and value == "bullet points":
        values["bullets"] = True
    elif key == "sign-off":
        values["sign_off"] = "" if value == "none" else value
    elif key == "signature":
        values["signature"] = "" if value == "none" else value
    elif key == "greeting" and value == "none":
        values["no_greeting"] = True
    elif key == "language" and value:
        values["language"] = value
    elif key == "personalization" and value == "more":
        values["personal"] = True
    elif key == "opener":
        if value == "none":
            values["no_opener"] = True
        elif value.startswith("exactly "):
            values["opener_exact"] = _unquote(value.removeprefix("exactly "))
        elif value == "a question":
            values["opener_question"] = True
        elif value.startswith("about "):
            values["opener"] = value.removeprefix("about ")
        elif value == _PLAIN_OPENER_LINE:
            values["opener_plain"] = True
    elif key == "subject":
        if value.startswith("exactly "):
            values["subject_exact"] = _unquote(value.removeprefix("exactly "))
        elif value in ("a question", "a statement"):
            values["subject_style"] = value.removeprefix("a ")
        elif value == _HOOK_LINE:
            values["subject_style"] = "hook"
        elif value == "short":
            values["subject_short"] = True
        elif value == "lowercase":
            values["subject_lower"] = True
        elif value.startswith("include "):
            lists.setdefault("subject_include", []).append(value.removeprefix("include "))
        elif value.startswith("without "):
            lists.setdefault("subject_exclude", []).append(value.removeprefix("without "))
    elif key == "include":
        lists.setdefault("mentions", []).append(value)
    elif key == "add sentence":
        lists.setdefault("sentences", []).append(_unquote(value))
    elif key == "P.S.":
        values["ps"] = "" if value == "none" else value
    elif key == "leave out":
        lists.setdefault("removed", []).append(value)
    elif key == "variables" and (var := VAR_RE.fullmatch(value.removeprefix("without "))):
        lists.setdefault("no_vars", []).append(var.group(1))
    elif key == "replace":
        m = re.match(r'^"(.*)" with "(.*)"$', value)
        if m:
            lists.setdefault("replacements", []).append((m.group(1), m.group(2)))


# ------------------------------------------------------------------------------- apply, per kind

def _push(items: tuple[Any, ...], item: Any) -> tuple[Any, ...]:
    kept = tuple(i for i in items if _key(i) != _key(item))
    return (kept + (item,))[-MAX_ITEMS:]


def _key(item: Any) -> str:
    return " ".join(str(item).lower().split())


_MATCH_FILLER = frozenset("the a an our my their your that this with about of on line sentence mention and".split())


def _content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9%]+", text.lower()) if w not in _MATCH_FILLER)


def _within(part: str, whole: str) -> bool:
    """``part`` in ``whole`` as whole words ("i" is not in "time-to-roi")."""
    return part in whole and re.search(rf"(?<!\w){re.escape(part)}(?!\w)", whole) is not None


def _matches(item: str, target: str) -> bool:
    """Whether ``target`` names ``item``: one contains the other, or all of one's words are in the other
    ("the SOC 2 report" names "SOC 2 Type II report"; "DHL case study" names "case study with DHL")."""
    a, b = _key(item), _key(target)
    if not (a and b):
        return False
    if _within(b, a) or _within(a, b):
        return True
    wa, wb = _content_words(a), _content_words(b)
    return bool(wa and wb) and (wb <= wa or wa <= wb)


def _tone(s: Standing, value: str) -> Standing:
    if value == "neutral":
        return replace(s, register=None, manner=None)
    if value in ("casual", "formal"):
        return replace(s, register=value)
    return replace(s, manner=value)


# "the greeting", "the Hi line", "Hi %first_name%," (the line itself, quoted)
_GREETING_TARGET = re.compile(r"(?:the\s+)?(?:(?:greeting|salutation)(?:\s+line)?|(?:hi|hello|hey|dear)(?:\s+line)?|"
                              r"(?:hi|hello|hey|dear)\s+(?:%first_name%|there)\s*,?(?:\s+line)?)")


def names_greeting(target: str) -> bool:
    """Whether a "leave out" target is the greeting line."""
    return bool(_GREETING_TARGET.fullmatch(_key(target)))


_STANDARD_VARIABLES = tuple(_VAR_WORDS)  # first_name, company, position, last_name


def _remove_item(s: Standing, target: str) -> Standing:
    low = _key(target)
    if re.fullmatch(r"(?:the\s+)?(?:p\.?\s?s\.?|ps|postscript|post-script)", low):
        return replace(s, ps="")
    if re.fullmatch(r"(?:the\s+)?(?:sign-?off|closing|valediction)", low):
        return replace(s, sign_off="")
    if re.fullmatch(r"(?:the\s+)?(?:signature|my\s+name|name|sign-?off\s+and\s+signature)", low):
        return replace(s, signature="")
    if names_greeting(target):
        return replace(s, no_greeting=True)
    if re.fullmatch(r"(?:the\s+)?(?:bullets|bullet(?:ed)?\s*(?:points?|list))", low):
        return replace(s, bullets=False)
    if re.fullmatch(r"(?:the\s+)?(?:hook|opener|opening(?:\s+line|\s+sentence)?|first\s+(?:line|sentence)|intro(?:\s+line)?|"
                    r"lead-in|question\s+at\s+the\s+start)", low):
        return replace(s, no_opener=True, opener=None, opener_question=False, opener_exact=None)
    if re.fullmatch(r"(?:the\s+)?(?:proof(?:\s+points?)?|customer\s+(?:results?|story|stories)|social\s+proof|"
                    r"results?(?:\s+line)?|stats?|statistics|case\s+stud(?:y|ies)|numbers|proof\s+block)", low):
        kept = tuple(m for m in s.mentions if "case stud" not in m.lower()) if "case" in low else ()
        return replace(s, mentions=kept, removed=_push(s.removed, "proof"))
    if re.fullmatch(r"(?:the\s+|all\s+(?:the\s+)?|any\s+)?(?:placeholders?|spans?|&&\s*spans?|instructions?|"
                    r"bracketed\s+(?:bits|parts|text))", low):  # the &&…&& spans: the opener and the proof
        return replace(s, no_opener=True, opener=None, opener_question=False, opener_exact=None, mentions=(),
                       removed=_push(s.removed, "proof"), personal=False)
    if re.fullmatch(r"(?:the\s+|all\s+(?:the\s+)?|any\s+)?(?:variables?|merge\s+(?:fields|tags)|personali[sz]ation\s+"
                    r"(?:tokens|fields|variables)|%variables%)", low):  # "don't use any variables": every standard one
        return replace(s, no_vars=tuple(dict.fromkeys(s.no_vars + _STANDARD_VARIABLES)),
                       subject_include=_without_included(s, "variables"))
    if re.fullmatch(r"(?:the\s+)?(?:added\s+)?sentences?", low):
        return replace(s, sentences=())
    variable = _as_variable(target)
    if variable:  # "don't use their company name": the variable goes, the sentences stay (worded without it)
        return replace(s, no_vars=_push(s.no_vars, variable), subject_include=_without_included(s, f"%{variable}%"))
    hit = False
    mentions = tuple(m for m in s.mentions if not _matches(m, target))
    sentences = tuple(x for x in s.sentences if not _matches(x, target))
    hit = len(mentions) != len(s.mentions) or len(sentences) != len(s.sentences)
    ps = s.ps
    if ps and _matches(ps, target):
        ps, hit = "", True
    if "case stud" in low and not hit:
        mentions = tuple(m for m in mentions if "case stud" not in m.lower())
        hit = len(mentions) != len(s.mentions)
    state = replace(s, mentions=mentions, sentences=sentences, ps=ps)
    if s.opener and _matches(s.opener, target):
        state, hit = replace(state, opener=None), True
    if s.focus and _matches(s.focus, target):
        state, hit = replace(state, focus=None), True
    if hit:
        return state
    return replace(state, removed=_push(s.removed, target))


def _mention(s: Standing, value: str) -> Standing:
    removed = tuple(r for r in s.removed if not _matches(value, r) and not (r == "proof" and "case stud" in value.lower()))
    return replace(s, mentions=_push(s.mentions, value), removed=removed)


def _subject(**changes: Any) -> Callable[[Standing, Any], Standing]:
    def apply(s: Standing, value: Any) -> Standing:
        return replace(s, subject_exact=None, **{k: (v(s, value) if callable(v) else v) for k, v in changes.items()})
    return apply


def _include(s: Standing, value: str) -> tuple[str, ...]:
    return _push(s.subject_include, value)


def _exclude(s: Standing, value: str) -> tuple[str, ...]:
    return _push(s.subject_exclude, value)


def _without_excluded(s: Standing, value: str) -> tuple[str, ...]:
    return tuple(x for x in s.subject_exclude if x not in (value, "variables"))


def _var_back(s: Standing, value: str) -> tuple[str, ...]:
    """A variable asked for (in the subject, the opener, "again") is no longer left out of the email."""
    return tuple(x for x in s.no_vars if f"%{x}%" != value)


def _without_included(s: Standing, value: str) -> tuple[str, ...]:
    if value == "variables":
        return tuple(x for x in s.subject_include if not VAR_RE.fullmatch(x))
    return tuple(x for x in s.subject_include if x != value)


def _next_angle(s: Standing) -> Standing:
    """The opener's next angle, read from the current one: the problem the offer solves (the default), then a
    question about it, then a specific, recent detail about the lead, then plainly why we write, then back.
    An opener the user wrote or removed is left to them; a topic they named stays the topic."""
    if s.opener_exact or s.no_opener:
        return s
    if s.opener_question:
        return replace(s, opener_question=False, personal=True, opener_plain=False)
    if s.personal and not s.opener_plain:
        return replace(s, personal=False, opener_plain=True)
    if s.opener_plain:
        return replace(s, opener_plain=False, personal=False)
    return replace(s, opener_question=True)


_APPLY: dict[str, Callable[[Standing, Any], Standing]] = {
    "start_over": lambda s, v: Standing(audience=s.audience, offer=s.offer, focus=s.focus, cta=s.cta, link=s.link),
    "tone": _tone,
    "shorter": lambda s, v: replace(s, shorter=min(3, s.shorter + int(v or 1))),
    "longer": lambda s, v: replace(s, shorter=max(0, s.shorter - int(v or 1)), max_words=None, one_paragraph=False),
    "max_words": lambda s, v: replace(s, max_words=v),
    "one_paragraph": lambda s, v: replace(s, one_paragraph=bool(v), bullets=s.bullets and not v),
    "bullets": lambda s, v: replace(s, bullets=bool(v), one_paragraph=s.one_paragraph and not v),
    "sign_off": lambda s, v: replace(s, sign_off=v),
    "signature": lambda s, v: replace(s, signature=v),
    "greeting": lambda s, v: replace(s, no_greeting=not v),
    "language": lambda s, v: replace(s, language=None if v == "English" else v),
    "personal": lambda s, v: replace(s, personal=bool(v)),
    "opener": lambda s, v: replace(s, opener=v or None, opener_exact=None, no_opener=False),
    "opener_question": lambda s, v: replace(s, opener_question=bool(v), opener_exact=None, no_opener=False),
    "opener_exact": lambda s, v: replace(s, opener_exact=v, opener=None, opener_question=False, no_opener=False),
    "opener_plain": lambda s, v: replace(s, opener_plain=bool(v)),
    "angle": lambda s, v: _next_angle(s),
    "subject_style": _subject(subject_style=lambda s, v: v),
    "subject_short": _subject(subject_short=True),
    "subject_lower": lambda s, v: replace(s, subject_lower=bool(v)),
    "subject_include": _subject(subject_include=_include, subject_exclude=_without_excluded, no_vars=_var_back),
    "variable": lambda s, v: replace(s, no_vars=_var_back(s, v)),
    "subject_exclude": _subject(subject_exclude=_exclude, subject_include=_without_included),
    "subject_exact": lambda s, v: replace(s, subject_exact=v),
    "subject_options": lambda s, v: s,  # answered in the reply; nothing stands
    "mention": _mention,
    "sentence": lambda s, v: replace(s, sentences=_push(s.sentences, v)),
    "ps": lambda s, v: replace(s, ps=v),
    "remove": _remove_item,
    "replace": lambda s, v: replace(s, replacements=_push(s.replacements, tuple(v))),
    "cta": lambda s, v: replace(s, cta=v, link=s.link if v == "link" else None, cta_exact=None),
    "cta_style": lambda s, v: replace(s, cta_style=v or None, cta_exact=None, urgent=s.urgent and v != "soft"),
    "cta_early": lambda s, v: replace(s, cta_early=bool(v)),
    "urgency": lambda s, v: replace(s, urgent=bool(v), cta_style=None if v and s.cta_style == "soft" else s.cta_style),
    "plain": lambda s, v: replace(s, plain=bool(v)),
    "follow_up": lambda s, v: replace(s, follow_up=bool(v)),
    "cta_exact": lambda s, v: replace(s, cta_exact=v),
    "link": lambda s, v: replace(s, link=v),
    "audience": lambda s, v: replace(s, audience=v),
    "offer": lambda s, v: replace(s, offer=v),
    "focus": lambda s, v: replace(s, focus=v),
}


def standing(messages: Iterable[str], start: Standing | None = None) -> Standing:
    """What stands after these user messages, oldest first."""
    state = start or Standing()
    for message in messages:
        state = state.apply(parse(message).requests)
    return state
