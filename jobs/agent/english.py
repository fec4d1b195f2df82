"""Small, deterministic English helpers for the offline model: articles, possessives, sentences.

Everything here is pattern work over short strings (names, offers, noun phrases), precompiled at
import. The rules, stated once so every caller follows the same ones:

* Indefinite article by sound, approximated from spelling: "an" before a vowel letter ("an
  onboarding platform"), except where the vowel sounds like a consonant ("a unicorn", "a user",
  "a one-time fee", "a European team"); "an" before a silent h ("an hour"); numbers by how they are
  spoken ("an 8-minute call", "an 11-minute demo", "an 80-word email", "a 15-minute call");
  acronyms spelled letter by letter by their first letter's name ("an SDR", "an HR team", "a CRM"),
  and acronyms read as words by their first sound ("a SOC 2 report", "a SaaS team").
* Possessive: a singular noun takes 's even when it ends in s ("Jonas's", "Acme's"); a plural
  noun takes a bare apostrophe ("Engines'", "Acme Systems'"). A person's name is singular; a
  company name whose last word looks like a plural noun (ends in s, not ss/us/is) is plural.
"""

from __future__ import annotations

import re

from core.text import normalize
from jobs.agent.rules import SPAM_PHRASES, SPAN_RE, VAR_RE

# ---------------------------------------------------------------------------------------- articles

_CONSONANT_SOUND_VOWEL = re.compile(r"^(?:uni(?!mp|nd|nt|nf|nh|ns|nv)|use|usu|usa|uti|uro|ure|eu|ewe|one\b|once|ubiq|ukul|uran)",
                                    re.I)
_SILENT_H = re.compile(r"^(?:hour|honest|honou?r|heir)", re.I)
_LETTER_VOWEL_SOUND = set("AEFHILMNORSX")  # letters whose names start with a vowel sound: "an F", "an S"
_WORD_ACRONYMS = {"SOC", "SAAS", "NASA", "GAAP", "SOX", "SWAT", "SCRUM", "OKR", "OKRS", "ROI", "KPI", "CRM", "HIPAA",
                  "GDPR", "ESG", "SQL", "B2B", "B2C"}
# Acronyms read as words that start with a vowel sound or, spelled out, with a consonant sound.
_AN_ACRONYMS = {"OKR", "OKRS", "ROI", "ESG", "SQL", "HIPAA"}  # "an OKR", "an ROI model" (spelled), "an SQL"
_FIRST_TOKEN = re.compile(r"[\w%&$]+")


def article(phrase: str) -> str:
    """"a" or "an" for the phrase that follows it."""
    match = _FIRST_TOKEN.search(phrase)
    if not match:
        return "a"
    word = match.group(0)
    if word.startswith("%"):  # an unrendered variable: its value is unknown
        return "a"
    if word[0].isdigit():
        digits = re.match(r"\d+", word.replace(",", "")).group(0)  # type: ignore[union-attr]
        if digits[0] == "8":
            return "an"  # eight, eighty, eight hundred
        if digits[:2] in ("11", "18") and len(digits) % 3 == 2:
            return "an"  # eleven, eighteen, eleven thousand
        return "a"
    upper = word.upper()
    if len(word) >= 2 and word == upper and word.isalpha():  # an acronym
        if upper in _WORD_ACRONYMS:
            return "an" if upper in _AN_ACRONYMS else "a"
        return "an" if upper[0] in _LETTER_VOWEL_SOUND else "a"
    if _SILENT_H.match(word):
        return "an"
    if word[0].lower() in "aeiou":
        return "a" if _CONSONANT_SOUND_VOWEL.match(word) else "an"
    return "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


# ------------------------------------------------------------------------------------- possessives

_NOT_PLURAL_ENDINGS = ("ss", "us", "is", "'s")
_UNCOUNTED = {"sales", "analytics", "logistics", "ops", "news", "series", "physics", "economics", "aws", "saas", "paas",
              "ios", "gps", "devops", "finops", "revops", "mlops", "bonus", "campus", "status", "canvas"}


_SHORT_PLURALS = {"ads", "pcs", "tvs", "ids"}  # "Facebook ads solve", though three letters


def looks_plural(noun_phrase: str) -> bool:
    """Whether a noun phrase reads as plural ("Acme Systems", "long sales cycles", not "Jonas" or "sales")."""
    words = noun_phrase.split()
    if not words:
        return False
    last = words[-1].lower().strip(".,")
    if last in _UNCOUNTED:
        return False
    if last in _SHORT_PLURALS:
        return True
    return len(last) > 3 and last.endswith("s") and not last.endswith(_NOT_PLURAL_ENDINGS)


def possessive(name: str, *, person: bool = False) -> str:
    """"Acme's", "Jonas's" (a person), "Engines'" (a company whose name reads as a plural)."""
    name = name.strip()
    if not name:
        return name
    if name.endswith(("'", "'s")):
        return name
    if not person and looks_plural(name):
        return name + "'"
    return name + "'s"


# ---------------------------------------------------------------------------------------- sentences

def cap(text: str) -> str:
    """First letter upper-cased, the rest kept ("time-to-ROI" -> "Time-to-ROI"); spans and variables left alone."""
    if not text or text[0] in "%&":
        return text
    return text[:1].upper() + text[1:]


def decap(text: str) -> str:
    """First letter lower-cased unless the first word looks like a name or acronym ("Rampwise", "ROI", "I")."""
    first = text.split(" ", 1)[0]
    if not first or first[0] in "%&" or first == "I" or any(c.isupper() for c in first[1:]):
        return text
    return text[:1].lower() + text[1:]


def sentence(text: str) -> str:
    """A full stop added when the text has no closing punctuation; the first letter capitalised."""
    text = text.strip()
    if not text:
        return text
    text = cap(text)
    if text[-1] not in ".!?\"'&)":
        text += "."
    return text


SPAN_WORDS = 14  # how many words a rendered &&…&& span is counted as (the offline writer stays within it)


def count_words(template: str) -> int:
    """Words in a draft body as a reader will see it: each &&…&& span counts as ``SPAN_WORDS``."""
    spans = len(SPAN_RE.findall(template))
    words = [w for w in SPAN_RE.sub(" ", template).split() if w != "-"]  # a bullet's dash is not a word
    return len(words) + spans * SPAN_WORDS


_ABBREVIATION_TAIL = 9  # characters before a stop that _ABBREVIATIONS can need (" approx" and the stop)
_ABBREVIATIONS = re.compile(r"(?:\b(?:P\.S|e\.g|i\.e|etc|vs|Mr|Mrs|Ms|Dr|Inc|Ltd|Co|St|approx|No)\.$)|(?:\b[A-Z]\.$)")


def split_sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences. &&spans&& are never split; "P.S.", "e.g." and "Inc." do not end one."""
    pieces: list[str] = []
    start = 0
    i = 0
    n = len(paragraph)
    while i < n:
        if paragraph.startswith("&&", i):
            close = paragraph.find("&&", i + 2)
            i = n if close < 0 else close + 2
            if i < n and paragraph[i] in " \n":  # a span stands as a sentence of its own
                pieces.append(paragraph[start:i].strip())
                start = i
            continue
        if paragraph[i] in ".!?" and (i + 1 == n or paragraph[i + 1] in " \n"):
            # Only the chunk's end can be an abbreviation ("approx." is the longest, with the character
            # before it for \b): searching the whole chunk, which grows while its stops are abbreviations,
            # cost the square of its length ("A. A. A. …", 50,000 characters: 12 s).
            if not _ABBREVIATIONS.search(paragraph, max(start, i - _ABBREVIATION_TAIL), i + 1):
                pieces.append(paragraph[start:i + 1].strip())
                start = i + 1
        i += 1
    tail = paragraph[start:].strip()
    if tail:
        pieces.append(tail)
    return [p for p in pieces if p]


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary (never inside %var% or &&span&&), with "…"."""
    if len(text) <= limit:
        return text
    end = limit - 1
    for span in SPAN_RE.finditer(text):  # a long &&span&&: its first words, closed again ("&&One sentence on…&&")
        if span.start() + 16 < end < span.end():
            return _clip_in_span(text, span.start(), end - 2)
    for match in (*SPAN_RE.finditer(text), *VAR_RE.finditer(text)):
        if match.start() < end < match.end():
            end = match.start()
    cut = text[:end]
    if cut.count("&&") % 2:  # an unclosed span in the text itself
        cut = cut[: cut.rfind("&&")]
    if end < len(text) and text[end] != " " and " " in cut.strip():
        cut = cut.rstrip().rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def _clip_in_span(text: str, start: int, end: int) -> str:
    for var in VAR_RE.finditer(text, start):
        if var.start() < end < var.end():
            end = var.start()
    cut = text[:end]
    if end < len(text) and text[end] != " " and " " in cut[start:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-(") + "\u2026&&"


def clip_words(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary, no ellipsis (for values reused in text)."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else text[:limit]
    return cut.rstrip(" ,;:-")


# ---------------------------------------------------------------------------------- user text reuse

_DASH = "[-\u2010-\u2015\u2212\ufe58\ufe63\uff0d]"


def _spam_tolerant(phrase: str) -> str:
    body = "".join(r"\s+" if c == " " else _DASH if c == "-" else re.escape(c) for c in phrase)
    head = r"(?<!\w)" if phrase[0].isalnum() else ""
    tail = r"(?!\w)" if phrase[-1].isalnum() else ""
    return head + body + tail


_SPAM_ANYWHERE = re.compile("|".join(_spam_tolerant(p) for p in SPAM_PHRASES), re.I)
_STRAY_PERCENT = re.compile(r"(?<!\d)%")
_SPACES = re.compile(r"[ \t]+")


def clean(text: str, keep: frozenset[str] | set[str] = frozenset(), *, spam: bool = True) -> str:
    """User-derived text made safe to reuse in a draft or reply: normalised, no placeholders (except the
    names in ``keep``), no && markers, no spam phrases (kept with ``spam=False``, for quoting in a
    reply), single spaces."""
    text = normalize(text)
    text = VAR_RE.sub(lambda m: m.group(0) if m.group(1) in keep else m.group(1).replace("_", " "), text)
    text = text.replace("&&", " ")
    if "%" in text:
        kept = VAR_RE.findall(text)
        text = VAR_RE.sub("\x00", text)
        text = _STRAY_PERCENT.sub(" percent", text)
        for name in kept:
            text = text.replace("\x00", f"%{name}%", 1)
    if spam:
        text = _SPAM_ANYWHERE.sub("", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return text.strip(" ,;:")


# ------------------------------------------------------------------------------------ offer grammar

# Verbs a product description uses, third person singular -> past participle.
_VERBS = {
    "cuts": "cut", "halves": "halved", "reduces": "reduced", "lowers": "lowered", "shortens": "shortened",
    "saves": "saved", "speeds": "sped", "automates": "automated", "simplifies": "simplified", "boosts": "boosted",
    "increases": "increased", "improves": "improved", "raises": "raised", "doubles": "doubled", "triples": "tripled",
    "grows": "grown", "helps": "helped", "lets": "let", "makes": "made", "gets": "got", "gives": "given",
    "turns": "turned", "removes": "removed", "eliminates": "eliminated", "replaces": "replaced", "fixes": "fixed",
    "prevents": "prevented", "finds": "found", "tracks": "tracked", "handles": "handled", "runs": "run",
    "keeps": "kept", "brings": "brought", "streamlines": "streamlined", "connects": "connected",
    "syncs": "synced", "integrates": "integrated", "protects": "protected", "secures": "secured",
    "predicts": "predicted", "spots": "spotted", "catches": "caught", "drives": "driven", "delivers": "delivered",
    "unlocks": "unlocked", "trims": "trimmed", "slashes": "slashed", "accelerates": "accelerated",
    "centralizes": "centralized", "centralises": "centralised", "manages": "managed", "schedules": "scheduled",
    "books": "booked", "writes": "written", "answers": "answered", "routes": "routed", "detects": "detected",
    "does": "done", "is": "been", "has": "had", "takes": "taken", "shows": "shown", "offers": "offered",
}
_VERB_ALT = "|".join(_VERBS) + "|help|cut|save|reduce|speed up"
_APPOSITIVE = re.compile(r"^(?P<name>[^,]{1,60}?),\s+(?P<desc>(?:a|an|the|our)\s+.+)$", re.I)
_BENEFIT = re.compile(r"\b(?:that|which|to)\s+(?P<verb>" + _VERB_ALT + r")\s+(?P<rest>.+)$", re.I)
# "Shiftly cuts scheduling time by 80%": a name of up to three words, then what it does.
# No word of the name is a relative pronoun: "payroll software that saves…" names nothing (its subject
# is "payroll software", what it does follows "that").
_NAMED_CLAUSE = re.compile(r"^(?P<name>(?!(?:we|i|it|they|our|you)\b)[\w&.'-]+"
                           r"(?:\s+(?!(?:that|which|who)\b)[\w&.'-]+){0,2}?)\s+(?P<verb>"
                           + "|".join(v for v in _VERBS if v not in ("is", "has", "does")) + r")\s+(?P<rest>.+)$", re.I)
# "our bookkeeping service that closes your books in 3 days": a noun phrase and a relative clause, no
# main verb; as a sentence, the clause's verb becomes the main one.
_OUR_RELATIVE = re.compile(r"^(?P<np>our(?:\s+(?!(?:that|which)\b)[\w&.'-]+){1,4}?"
                           r"(?:,\s+[\w&.'-]+(?:\s+[\w&.'-]+){0,2},)?),?\s+(?:that|which)\s+"
                           r"(?P<verb>" + _VERB_ALT + r"|(?!(?:its|this|his|hers|ours|yours|theirs|us)\b)[a-z]+s)\s+"
                           r"(?P<rest>.+)$", re.I)
_NAMED_RELATIVE = re.compile(r"^(?P<name>(?!(?:a|an|the|our|we)\b)[\w&.'-]+(?:\s+[\w&.'-]+){0,2}),\s+(?:which|that|who)\s+"
                            r"(?P<rest>(?:" + "|".join(_VERBS) + r"|(?!(?:its|this|his|hers|ours|yours|theirs|us|is|was|has)\b)"
                            r"[a-z]+s)\b.+)$", re.I)
_BENEFIT_OBJECT_END = re.compile(r"\s+(?:in|by|for|with|to|from|across|at|on|within|without|so|and|while|per|up to)\s+|,",
                                 re.I)
_CATEGORY = re.compile(r"^(?:(?:a|an|the|our)\s+)?(?P<cat>(?!(?:a|an|the|our)\b)[\w-]+(?:\s+[\w-]+){0,2}?)\s+(?:platform|tool|app|software|"
                       r"service|solution|system|product|suite|assistant|engine|api|marketplace|network|agency|program|"
                       r"course|library)\b", re.I)
_TOPIC_SPLIT = re.compile(r",| - | — | that | which | who | to help | so that | so | for (?=\w)", re.I)
_PRONOUNS = {"they": "you", "them": "you", "their": "your", "theirs": "yours", "themselves": "yourselves"}
_PRONOUN_RE = re.compile(r"\b(?:they|them|their|theirs|themselves)\b", re.I)
_LEADING_DET = re.compile(r"^(?:the|our|a|an|that|this|some)\s+", re.I)


def topic(offer: str) -> str:
    """A short name for the offer, for subjects ("Rampwise, an onboarding tool…" -> "Rampwise",
    "payroll software for restaurants" -> "payroll software"); "" when the offer has no name to use
    ("we help restaurants…")."""
    offer = offer.strip()
    if offer.split(" ", 1)[0].lower() in ("we", "i", "our", "it", "they", "you"):
        return ""
    named = _NAMED_CLAUSE.match(offer)
    if named and not _APPOSITIVE.match(offer):
        return clip_words(named.group("name"), 36)
    head = _TOPIC_SPLIT.split(offer, maxsplit=1)[0].strip()
    if " to " in head and not head[:1].isdigit():
        head = head.split(" to ", 1)[0]
    return clip_words(head, 36)


def to_you(text: str) -> str:
    """Third person about the reader turned to second person ("their hiring plan" -> "your hiring plan")."""
    return _PRONOUN_RE.sub(lambda m: cap(_PRONOUNS[m.group(0).lower()]) if m.group(0)[0].isupper()
                           else _PRONOUNS[m.group(0).lower()], text)


_THEM = re.compile(r"\bthem\b")


def _their_reader(offer: str) -> str:
    """"we help them cut food waste": "them" is the reader's kind, named nowhere in the email; with no plural
    before it to stand for, it becomes "teams like yours"."""
    m = _THEM.search(offer)
    if not m or any(looks_plural(word.strip(",")) for word in offer[:m.start()].split()[:-1]):  # [-1]: its verb
        return offer
    return offer[:m.start()] + "teams like yours" + offer[m.end():]


# Platforms an offer often starts with ("Facebook ads for DTC brands", "Shopify store audits"): a capital there
# is a name, not the start of a sentence. (CamelCase names, "LinkedIn", "HubSpot", keep theirs anyway.)
_PLATFORMS = frozenset("""facebook google instagram twitter reddit pinterest snapchat youtube amazon shopify salesforce
etsy walmart ebay yelp tiktok slack stripe xero zendesk microsoft android notion figma webflow magento
klaviyo mailchimp zapier jira asana workday oracle quickbooks netsuite hubspot linkedin wordpress gmail outlook excel
zoom intercom marketo pardot gong twilio okta aws azure""".split())


def offer_sentence(offer: str) -> str:
    """The offer as a full sentence: "Rampwise, an onboarding platform that…" -> "Rampwise is an onboarding
    platform that….", "we help X" -> "We help X.", "Shiftly cuts X" stays, a bare noun phrase -> "We offer X."."""
    offer = _their_reader(offer.strip().rstrip("."))
    if not offer:
        return ""
    appositive = _APPOSITIVE.match(offer)
    if appositive:
        return sentence(f"{appositive.group('name')} is {appositive.group('desc')}")
    our = _OUR_RELATIVE.match(offer)
    if our and not any(word.lower() in _VERBS for word in our.group("np").split()):
        return sentence(f"{our.group('np')} {our.group('verb')} {our.group('rest')}")
    if offer.split(" ", 1)[0].lower() in ("we", "our", "i", "it", "they"):
        return sentence(offer)
    if _NAMED_CLAUSE.match(offer):
        return sentence(offer)
    relative = _NAMED_RELATIVE.match(offer)
    if relative:  # "Shiftly, which automates shift scheduling" -> "Shiftly automates shift scheduling."
        return sentence(f"{relative.group('name')} {relative.group('rest')}")
    words = offer.split()
    if len(words) == 1 and offer[:1].isupper():
        return f"I am reaching out about {offer}."
    if (words[0][:1].isupper() and words[1][:1].islower() and not any(c.isupper() for c in words[0][1:])
            and not words[0].endswith(",")  # "Deployly, one-click rollbacks": a name set off by a comma
            and words[0].lower().rstrip("'s") not in _PLATFORMS):  # "Facebook ads for DTC brands"
        offer = offer[:1].lower() + offer[1:]  # "Payroll software for…" begins a sentence, it is not a name
    return sentence(f"We offer {offer}")


def benefit(offer: str) -> tuple[str, str, str] | None:
    """(who, verb, the rest) of what the offer does: "Rampwise, a platform that cuts ramp time in half" ->
    ("Rampwise", "cuts", "ramp time in half"); ``who`` is "" when the offer names nothing usable."""
    named = _NAMED_CLAUSE.match(offer) if not _APPOSITIVE.match(offer) else None
    match = named or _BENEFIT.search(offer)
    if not match:
        return None
    verb = match.group("verb").lower()
    if verb in ("help", "cut", "save", "reduce"):
        verb += "s"
    if verb == "speed up":
        verb, rest = "speeds", "up " + match.group("rest")
    else:
        rest = match.group("rest")
    who = named.group("name") if named else topic(offer)
    return who, verb, rest.strip().rstrip(".")


# "…software that closes the books 5 days faster": what it does, for any verb (benefit() knows a list of them)
_ANY_BENEFIT = re.compile(r"\b(?:that|which)\s+(?P<verb>[a-z]+s)\s+(?P<rest>.+)$", re.I)
_NOT_AN_OUTCOME = {"is", "has", "does", "was", "lets", "helps", "makes", "gives", "offers", "uses", "takes", "shows",
                   "runs", "means", "needs", "works", "sits", "lives", "comes", "goes", "plugs", "integrates",
                   "connects", "syncs", "its", "this", "his", "hers", "ours", "yours", "theirs", "us", "always"}
_OUTCOME_END = re.compile(r",|;|\s+(?:so|so that|while|without|because|and then|which|who)\s+", re.I)


def _base_form(verb: str) -> str:
    """Third person singular -> the base form: "closes" -> "close", "simplifies" -> "simplify"."""
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if verb.endswith(("ches", "shes", "sses", "xes", "zes")):
        return verb[:-2]
    return verb[:-1]


def outcome(offer: str | None) -> str | None:
    """What the offer does for the reader, as an imperative to lead a subject with: "Ledgerly, accounting
    automation that closes the books 5 days faster" -> "Close the books 5 days faster"; None when the offer
    does not say ("payroll software for restaurants", "we help teams …")."""
    if not offer:
        return None
    found = benefit(offer)
    if found:
        verb, rest = found[1], found[2]
    else:
        any_verb = _ANY_BENEFIT.search(offer)
        if not any_verb:
            return None
        verb, rest = any_verb.group("verb").lower(), any_verb.group("rest")
    if verb in _NOT_AN_OUTCOME or not rest.strip():
        return None
    rest = _OUTCOME_END.split(rest.strip().rstrip("."), maxsplit=1)[0].strip()
    if verb == "speeds" and not rest.lower().startswith("up "):
        rest = "up " + rest
    if not rest:
        return None
    return cap(f"{_base_form(verb)} {to_you(rest)}")


def short_offer(offer: str) -> str:
    """The offer in one short sentence: "Rampwise cuts new-rep ramp time in half."."""
    found = benefit(offer)
    if found:
        who, verb, rest = found
        if who.lower().startswith(("a ", "an ", "the ")):
            who = "Our " + who.split(" ", 1)[1]
        if who and len(who.split()) <= 4:
            return sentence(f"{who} {verb} {rest}")
    return offer_sentence(offer)


def proof_claim(offer: str) -> str | None:
    """What customers achieved, from the offer's own claim: "have cut new-rep ramp time in half"."""
    found = benefit(offer)
    if not found:
        return None
    _, verb, rest = found
    participle = _VERBS.get(verb)
    if participle is None or verb in ("is", "has", "does", "lets", "makes", "gives", "offers", "helps", "gets", "takes",
                                      "shows", "writes", "books", "answers", "routes", "runs", "keeps", "brings",
                                      "finds", "turns", "connects", "syncs", "integrates", "handles", "manages",
                                      "schedules", "tracks", "delivers", "drives", "catches", "spots", "predicts",
                                      "detects", "unlocks"):
        return None
    return f"have {participle} {rest}"


_TIME_TO = re.compile(r"^(?:under\s+|less\s+than\s+)?\d+\s*(?:minutes?|hours?|days?|weeks?|months?)\s+to\s+(?P<goal>.{2,40})$",
                      re.I)
_IMPROVES = ("cuts", "halves", "reduces", "lowers", "shortens", "slashes", "trims", "speeds", "boosts", "increases",
             "improves", "automates", "simplifies", "streamlines", "tracks", "manages", "centralizes", "centralises",
             "doubles", "triples", "raises", "accelerates", "fixes", "prevents", "eliminates", "removes", "protects",
             "secures", "schedules", "handles")


def theme(offer: str | None, focus: str | None = None) -> str | None:
    """What the email is about for the reader, as a noun phrase: the user's focus, else the object of
    what the offer does ("cuts new-rep ramp time in half" -> "new-rep ramp time"), else its category
    ("an onboarding platform" -> "onboarding", "payroll software for…" -> "payroll")."""
    if focus:
        return focus
    if not offer:
        return None
    promise = _TIME_TO.match(offer.strip())
    if promise:  # "15 minutes to ROI" is about time to ROI
        return f"time to {promise.group('goal')}"
    found = benefit(offer)
    if found:
        _, verb, rest = found
        if verb == "speeds" and rest.lower().startswith("up "):
            rest = rest[3:]
        obj = _BENEFIT_OBJECT_END.split(rest, maxsplit=1)[0].strip()
        obj = re.sub(r"^(?:your|their|the|its)\s+", "", obj, flags=re.I)
        if verb in _IMPROVES and 1 <= len(obj.split()) <= 5:
            return obj
    appositive = _APPOSITIVE.match(offer.strip())
    category = _CATEGORY.match(appositive.group("desc") if appositive else offer.strip())
    if category and len(category.group("cat").split()) <= 3 and category.group("cat").split()[0].lower() not in (
            "we", "i", "our", "it"):
        return category.group("cat")
    return None


def strip_determiner(text: str) -> str:
    return _LEADING_DET.sub("", text.strip())
