"""Checks for broken English in text the offline writer produces (drafts, examples, replies).

Deliberately mechanical: each check finds one kind of mistake the issue reported ("Teams like
Engines's", "a onboarding", "15 minutes to ROI." as a sentence, "Would you be open to a reply"),
so a failure names the mistake and the sentence it is in.
"""

from __future__ import annotations

import re

from jobs.agent.english import split_sentences

_A_BEFORE_VOWEL = re.compile(r"\b[Aa] (?!(?:uni|use|usu|usa|uti|eu|one|once|ur)\w*)(?=[aeiouAEIOU]\w)")
_AN_BEFORE_CONSONANT = re.compile(r"\b[Aa]n (?!(?:hour|honest|hono|heir|[AEFHILMNORSX][A-Z0-9]))(?=[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z])")
_A_BEFORE_EIGHT = re.compile(r"\b[Aa] (?=8|11-|18-|80|81|82|83|84|85|86|87|88|89)")
_DOUBLE_POSSESSIVE = re.compile(r"\b\w+s's\b")
_TEAMS_LIKE = re.compile(r"\bTeams like [A-Z]\w*'s\b")
_REPEATED_WORD = re.compile(r"\b(\w+) \1\b", re.I)
_VERB = re.compile(
    r"\b(?:is|are|was|were|be|been|am|have|has|had|can|could|would|will|do|does|did|may|might|should|hope|saw|see|"
    r"cut|cuts|offer|offers|help|helps|share|reply|send|pick|grab|book|choose|thought|tend|tends|found|let|lets|"
    r"wanted|want|like|love|work|works|integrate|integrates|automates|reduces|saves|speeds|makes|gets|takes|"
    r"looked|approaching|handles|handle|mention|mentioning|reaching|sharing|get|make|add|set|follow|following|"
    r"go|went|grew|halves|lowers|boosts|run|runs|keep|keeps|use|uses|used|know|says|'s|'re|'ll|'d|'m)\b", re.I)
_GREETING = re.compile(r"^(?:Hi|Hey|Hello|Dear)\b[^\n]*,$")


def english_problems(text: str, *, email: bool = True, template: bool = False) -> list[str]:
    """Mistakes found in ``text`` (an email body when ``email``; then the greeting and sign-off lines
    are not held to the full-sentence rule). A ``template`` may hold %variables% and &&spans&&; its
    spans are instructions, not sentences, and are skipped."""
    if template:
        text = re.sub(r"&&.*?&&", "", text, flags=re.S)
        text = re.sub(r"%([a-z_]+)%", lambda m: "Sam" if "name" in m.group(1) else "Acme", text)
        text = re.sub(r"[ \t]+\n|[ \t]{2,}", lambda m: "\n" if "\n" in m.group(0) else " ", text)
        text = re.sub(r"(^|\n) +", r"\1", text)
        text = re.sub(r"\n\n(?:\n)+", "\n\n", text).strip()
    problems: list[str] = []
    for pattern, what in ((_A_BEFORE_VOWEL, "'a' before a vowel"), (_AN_BEFORE_CONSONANT, "'an' before a consonant"),
                          (_A_BEFORE_EIGHT, "'a' before eight/eleven/eighteen/eighty"),
                          (_DOUBLE_POSSESSIVE, "'s after a plural-looking name"), (_TEAMS_LIKE, "'Teams like X's'"),
                          (_REPEATED_WORD, "a repeated word")):
        for m in pattern.finditer(text):
            if what == "a repeated word" and m.group(1).lower() in ("that", "had"):
                continue
            problems.append(f"{what}: …{text[max(0, m.start() - 20): m.end() + 20]}…")
    if re.search(r"open to a reply|up for a reply|available for a reply|book a reply", text, re.I):
        problems.append("a reply treated as a meeting")
    for bad in ("  ", " ,", " .", ",,", "..", "%", "&&", "\n\n\n"):
        if bad in text.replace("...", "").replace("40%", "").replace("80%", ""):
            problems.append(f"stray {bad!r}")
    if not email:
        return problems
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    body = paragraphs[1:] if paragraphs and _GREETING.match(paragraphs[0]) else paragraphs
    closing = body[-1] if body and not body[-1].startswith("P.S.") else (body[-2] if len(body) > 1 else "")
    for paragraph in body:
        if paragraph == closing and (len(paragraph.split()) <= 6 or "\n" in paragraph):
            continue  # the sign-off and signature
        for sentence in split_sentences(paragraph.removeprefix("P.S. ")):
            if not sentence[:1].isupper() and not sentence[:1].isdigit():
                problems.append(f"sentence starts in lower case: {sentence!r}")
            if not (sentence.endswith((".", "?", "!")) or re.search(r"https?://\S+$|\[booking link\]$", sentence)):
                problems.append(f"sentence without closing punctuation: {sentence!r}")
            if not _VERB.search(sentence) and not sentence.endswith("?"):
                problems.append(f"no verb, a bare noun phrase: {sentence!r}")
    return problems
