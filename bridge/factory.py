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
    if settings.task_backend == "arq":
        from bridge.arq import ArqBridge

        return ArqBridge(redis_url=settings.redis_url, queue_name=settings.arq_queue_name,
                         token_secret=settings.resolved_token_secret(), env_id=settings.public_token_env_id,
                         token_ttl=settings.public_token_ttl_seconds)
    if settings.task_backend == "trigger":
        from bridge.trigger import TriggerBridge

        return TriggerBridge(api_url=settings.trigger_api_url, secret_key=settings.trigger_secret_key,
                             token_ttl=settings.public_token_ttl_seconds,
                             deadline_seconds=settings.trigger_dispatch_deadline_seconds,
                             run_ttl_seconds=settings.claim_lease_seconds)
    raise ConfigError(f"TASK_BACKEND={settings.task_backend!r} is not available in this build")
