"""Estimated USD cost per turn: a small, documented price table (USD per million tokens).

Prices are list prices at the time of writing and only an estimate; a model that is not listed
costs 0.0 and is logged once, so an operator can add it here. The offline model is free.
"""

from __future__ import annotations

import logging

log = logging.getLogger("campaign_chat.llm")

# (input, output) USD per 1M tokens, keyed by model name without the provider prefix.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "claude-3-5-haiku-latest": (0.80, 4.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4-0": (3.00, 15.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-opus-4-1": (15.00, 75.00),
}
_warned: set[str] = set()


def price_for(model_name: str) -> tuple[float, float] | None:
    name = model_name.split(":", 1)[-1]
    if name in PRICES:
        return PRICES[name]
    # Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their family costs; longest prefix wins.
    family = max((k for k in PRICES if name.startswith(k + "-")), key=len, default=None)
    return PRICES[family] if family else None


def estimate_cost(model_name: str, input_tokens: int, output_tokens: int) -> float:
    if model_name == "offline":
        return 0.0
    price = price_for(model_name)
    if price is None:
        if model_name not in _warned:
            _warned.add(model_name)
            log.warning("no price known for model %s: cost is reported as 0.0 (add it to jobs/agent/pricing.py)",
                        model_name)
        return 0.0
    return round((input_tokens * price[0] + output_tokens * price[1]) / 1_000_000, 8)
