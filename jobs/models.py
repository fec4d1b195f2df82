"""Pick the framework LLM named by ``LLM_MODEL``."""

from __future__ import annotations

from core.errors import ConfigError
from core.settings import Settings
from jobs.llm import FrameworkLLM
from jobs.simple_model import SimpleModel


def build_llm(settings: Settings) -> FrameworkLLM:
    if settings.llm_model in ("offline", "simple"):
        return SimpleModel()
    raise ConfigError(f"LLM_MODEL={settings.llm_model!r} is not supported yet: use offline")
