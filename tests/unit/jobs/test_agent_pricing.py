"""Estimated cost from the documented price table."""

from jobs.agent.pricing import estimate_cost


def test_cost_follows_the_price_table_including_dated_snapshots() -> None:
    assert estimate_cost("openai:gpt-4o-mini", 1_000_000, 1_000_000) == 0.75
    assert estimate_cost("openai:gpt-4o-mini-2024-07-18", 2_000, 1_000) == round((2_000 * 0.15 + 1_000 * 0.60) / 1e6, 8)
    assert estimate_cost("anthropic:claude-sonnet-4-5", 1_000, 0) == 0.003


def test_offline_and_unknown_models_cost_nothing() -> None:
    assert estimate_cost("offline", 10_000, 10_000) == 0.0
    assert estimate_cost("openai:llama3.2", 10_000, 10_000) == 0.0
