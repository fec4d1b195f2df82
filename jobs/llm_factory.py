"""Pick the framework LLM named by ``LLM_MODEL``.

``offline`` (the default) is the built-in deterministic model. Anything else is a pydantic-ai
model name (``openai:gpt-4o-mini``, ``anthropic:claude-sonnet-4-5``, ``ollama:llama3.2``…); the
provider reads its usual variables (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``…), so switching
models needs no code change. With ``OPENAI_BASE_URL`` set, an ``openai:`` model talks to that
OpenAI-compatible server (vLLM, Ollama, LM Studio…) over ``/v1/chat/completions``, the API those
servers implement; without it, ``openai:`` is pydantic-ai's default for OpenAI itself.
"""

from __future__ import annotations

import logging

from pydantic_ai.exceptions import UserError
from pydantic_ai.models import Model, infer_model

from core.errors import ConfigError
from core.settings import Settings
from jobs.agent import AgentLLM
from jobs.agent.framework import scrub
from jobs.agent.offline import offline_model
from jobs.llm import FrameworkLLM

# Transport retries of the OpenAI client on 429/5xx/connection errors (its default is 2). One retry
# absorbs a blip; the turn's deadline (CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS) bounds all of them anyway,
# and a provider that keeps failing should fail the turn with its status, not spend the deadline.
PROVIDER_MAX_RETRIES = 1

log = logging.getLogger("campaign_chat.llm")


def resolve_model(name: str, openai_base_url: str = "") -> Model:
    """The pydantic-ai model for ``LLM_MODEL``; a name it cannot build stops start-up with the reason."""
    if name == "offline":
        return offline_model()
    if ":" not in name:
        raise ConfigError(f"LLM_MODEL={name!r} is invalid: use offline or provider:model, e.g. openai:gpt-4o-mini")
    provider, _, model_name = name.partition(":")
    try:
        if provider in ("openai", "openai-chat") and openai_base_url:
            # Imported here: the OpenAI client costs ~0.7 s of start-up that the offline model never needs.
            from pydantic_ai.models.openai import OpenAIChatModel
            from pydantic_ai.providers.openai import OpenAIProvider

            client = OpenAIProvider(base_url=openai_base_url).client.with_options(max_retries=PROVIDER_MAX_RETRIES)
            return OpenAIChatModel(model_name, provider=OpenAIProvider(openai_client=client))
        return infer_model(name)
    except (UserError, ValueError, ImportError) as exc:
        raise ConfigError(f"LLM_MODEL={name!r} cannot be used: {scrub(str(exc))}") from None


def build_llm(settings: Settings) -> FrameworkLLM:
    model = resolve_model(settings.llm_model, settings.openai_base_url)
    where = f" via {settings.openai_base_url}" if settings.openai_base_url and settings.llm_model.startswith("openai") else ""
    log.info("framework LLM: %s%s (per-turn token limit %d)", settings.llm_model, where, settings.turn_token_limit)
    return AgentLLM(model, name=settings.llm_model, token_limit=settings.turn_token_limit)
