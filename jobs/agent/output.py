"""What the model must return, as pydantic models (pydantic-ai does not accept msgspec Structs as output).

A turn returns the reply plus, once the model has enough context, a skeleton and a draft. The
skeleton is stored on the session as plain JSON (``model_dump(exclude_none=True)``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

BLOCK_NAMES = ("hook", "value_prop", "proof", "cta")


class Personalization(BaseModel):
    """How one block adapts to each lead."""

    fields: list[str] = Field(default_factory=list, description="Allowed variable names this block draws on, without %.")
    approach: str = Field(description="How the block uses those fields for each lead.")
    fallback: str = Field(description="What to write when a lead lacks the fields.")


class Block(BaseModel):
    strategy: str = Field(description="What this part of the email does, in one sentence.")
    personalization: Personalization


class Skeleton(BaseModel):
    """The email's framework: the four blocks plus who it is for and what it offers."""

    audience: str = Field(description="Who the email is for.")
    offer: str = Field(description="What is being offered.")
    hook: Block
    value_prop: Block
    proof: Block
    cta: Block

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class TurnOutput(BaseModel):
    """One assistant turn. Keep ``reply`` first: it is what streams to the user."""

    reply: str = Field(description="The message to the user: questions, or what changed and why.")
    skeleton: Skeleton | None = Field(default=None, description="Only once audience, offer and CTA are known.")
    draft_subject: str | None = Field(default=None, description="Template subject, 60 characters at most.")
    draft_body: str | None = Field(default=None, description="Template body with %variables% and &&per-lead&& spans.")


class ExampleOutput(BaseModel):
    """One rendered example email for one lead: no %variables% and no && spans left."""

    subject: str
    body: str
