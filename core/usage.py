"""Model usage of a run (tokens, requests, estimated cost): one struct that adds and serialises itself."""

from __future__ import annotations

from typing import Any

import msgspec


class Usage(msgspec.Struct, frozen=True):
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.requests + other.requests,
            round(self.cost_usd + other.cost_usd, 8),
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored on runs and sessions and sent in ``usage`` events."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "requests": self.requests, "cost_usd": self.cost_usd}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Usage:
        return msgspec.convert(value, cls) if value else cls()
