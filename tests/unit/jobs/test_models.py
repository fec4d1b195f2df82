"""LLM_MODEL picks the model without code changes; bad names stop start-up with a clear reason."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel

from core.errors import ConfigError
from core.settings import Settings
from jobs.agent import AgentLLM
from jobs.agent.offline import OfflineModel
from jobs.llm_factory import build_llm, resolve_model


def test_the_default_is_the_offline_model_and_it_is_announced(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="campaign_chat.llm"):
        llm = build_llm(Settings())
    assert isinstance(llm, AgentLLM) and llm.name == "offline"
    assert isinstance(resolve_model("offline"), OfflineModel)
    assert any("framework LLM: offline" in r.getMessage() for r in caplog.records)


def test_an_openai_compatible_server_is_reached_through_openai_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings.from_env({"LLM_MODEL": "openai:llama3.2", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    llm = build_llm(replace(settings, database_url="sqlite+aiosqlite:///:memory:"))
    assert llm.name == "openai:llama3.2"
    model = resolve_model("openai:llama3.2", "http://127.0.0.1:11434/v1")
    assert isinstance(model, OpenAIChatModel) and model.model_name == "llama3.2"


def test_a_hosted_provider_is_named_like_pydantic_ai_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    model = resolve_model("anthropic:claude-sonnet-4-5")
    assert isinstance(model, AnthropicModel) and model.model_name == "claude-sonnet-4-5"


def test_bad_model_names_fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="use offline or provider:model"):
        resolve_model("gpt-4o")
    with pytest.raises(ConfigError, match="LLM_MODEL='nosuchprovider:x' cannot be used"):
        resolve_model("nosuchprovider:x")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        resolve_model("openai:gpt-4o-mini")


def test_openai_base_url_must_be_a_url() -> None:
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        Settings.from_env({"OPENAI_BASE_URL": "localhost:8000"})
