"""What the offline model understands of a conversation: audience, offer, call to action, proof,
and the feedback in the latest message. Plain, deterministic pattern matching over what the user
wrote; later statements override earlier ones, so the user can change their mind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from jobs.agent.rules import SPAM_PHRASES, VAR_RE

_ROLE = (r"(?:VPs?|heads?|directors?|managers?|founders?|CTOs?|CEOs?|CFOs?|CMOs?|CROs?|engineers?|leaders?|"
         r"recruiters?|marketers?|owners?|executives?|buyers?|teams?|reps?|operators?)")
AUDIENCE_RE = re.compile(
    r"\b(?:for|to|targeting|targets?|audience(?:\s+is)?:?|aimed at|reach(?:ing)?)\s+"
    r"((?:[A-Za-z0-9&/-]+\s+){0,4}?" + _ROLE + r"(?:\s+(?:of|in|at)\s+[A-Za-z0-9&/-]+)?)\b", re.I)
OFFER_RE = re.compile(
    r"\b(?:we (?:sell|offer|provide|make|build|built|run)|our (?:product|offer|tool|platform|service|app) is|"
    r"(?:the )?offer(?:ing)?(?: is)?:|(?:the )?offer(?:ing)? is|selling)\s+(.{3,160}?)\s*(?:[.;!?\n]|$)", re.I)
CTA_RE = re.compile(
    r"\b(?:cta|call to action|goal|ask(?: them)?|book|schedule|get them to|want them to)\b[^.?!\n]{0,40}?"
    r"\b((?:\d+[- ]?min(?:ute)?s?\s+)?(?:quick\s+|short\s+|free\s+|intro\s+)?"
    r"(?:demo|call|meeting|chat|trial|pilot|reply))\b", re.I)
SHORTER_RE = re.compile(r"\b(?:shorter|shorten|too long|more concise|trim it|cut it down|briefer)\b", re.I)
MENTION_RE = re.compile(r"\b(?:mention|include|add|highlight|talk about)\s+(?:our\s+|the\s+|that we have\s+)?"
                        r"(.{2,120}?)\s*(?:[.;!?\n]|$)", re.I)


DEFAULT_AUDIENCE = "decision-makers in the lead's role"
DEFAULT_CTA = "15-minute call"


def clean(text: str) -> str:
    """User-derived text made safe to reuse in a draft: no placeholders, spans or spam phrases."""
    text = VAR_RE.sub(lambda m: m.group(1).replace("_", " "), text).replace("&&", "and")
    text = re.sub(r"(?<!\d)%", " percent", text)
    for phrase in SPAM_PHRASES:
        text = re.sub(re.escape(phrase), "", text, flags=re.I)
    return re.sub(r"\s+", " ", text).strip(" ,")


@dataclass(frozen=True)
class Brief:
    audience: str | None = None
    offer: str | None = None
    cta: str | None = None
    proof: str | None = None

    @property
    def missing(self) -> list[str]:
        return [name for name in ("audience", "offer", "cta") if getattr(self, name) is None]

    @classmethod
    def from_skeleton(cls, skeleton: dict[str, Any] | None) -> Brief:
        if not skeleton:
            return cls()
        cta = (skeleton.get("cta") or {}).get("strategy", "")
        proof = (skeleton.get("proof") or {}).get("strategy", "")
        return cls(audience=skeleton.get("audience"), offer=skeleton.get("offer"),
                   cta=cta.removeprefix("Ask for a ").removeprefix("Ask for an ") or None,
                   proof=proof.removeprefix("Cite: ") if proof.startswith("Cite: ") else None)

    def assuming(self, first_message: str) -> tuple[Brief, list[str]]:
        """Gaps filled with stated defaults (used after one round of questions went unanswered)."""
        assumed = {}
        if self.audience is None:
            assumed["audience"] = DEFAULT_AUDIENCE
        if self.offer is None:
            assumed["offer"] = clean(first_message)[:120] or "what you described"
        if self.cta is None:
            assumed["cta"] = DEFAULT_CTA
        return replace(self, **assumed), [f"{k}: {v}" for k, v in assumed.items()]

    def read(self, text: str) -> Brief:
        """This brief updated with what ``text`` states."""
        found: dict[str, str] = {}
        for key, pattern in (("audience", AUDIENCE_RE), ("offer", OFFER_RE), ("cta", CTA_RE)):
            match = pattern.search(text)
            if match and clean(match.group(1)):
                found[key] = clean(match.group(1))
        mention = MENTION_RE.search(text)
        if mention and clean(mention.group(1)):
            found["proof"] = clean(mention.group(1))
        return replace(self, **found)


def topic(offer: str) -> str:
    """A short name for the offer, for subjects ("Rampwise, an onboarding tool…" → "Rampwise")."""
    head = re.split(r",| - | that | which ", offer, maxsplit=1)[0].strip()
    return head[:36].rsplit(" ", 1)[0] if len(head) > 36 else head


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
