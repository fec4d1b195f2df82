"""Build the backend ``TASK_BACKEND`` names."""

from __future__ import annotations

from bridge.base import Bridge
from bridge.inline import InlineBridge
from core.errors import ConfigError
from core.settings import Settings
from jobs.reporter import Wake
from jobs.runtime import JobDeps


def build_bridge(settings: Settings, deps: JobDeps, *, wake: Wake | None = None) -> Bridge:
    if settings.task_backend == "inline":
        return InlineBridge(deps, token_secret=settings.resolved_token_secret(), env_id=settings.public_token_env_id,
                            token_ttl=settings.public_token_ttl_seconds, wake=wake)
    raise ConfigError(f"TASK_BACKEND={settings.task_backend!r} is not available in this build")
