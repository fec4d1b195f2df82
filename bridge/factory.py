"""Build the backend ``TASK_BACKEND`` names: the one place the choice is made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.base import Bridge
from bridge.tokens import TokenSigner
from core.errors import ConfigError
from core.settings import Settings
from jobs.guard import JobDeps


def build_bridge(settings: Settings, *, deps: JobDeps | None, signer: TokenSigner, redis: Any = None,
                 wake_here: Callable[[str], None] | None = None) -> Bridge:
    """``deps`` run turns in this process (inline without the embedded worker); ``wake_here`` delivers the
    embedded worker's wake-ups to this process's subscribers."""
    if settings.task_backend == "inline" and deps is None:
        from bridge.embedded import EmbeddedBridge

        return EmbeddedBridge(settings, signer=signer, wake=wake_here or (lambda run_id: None))
    if settings.task_backend == "inline":
        from bridge.inline import InlineBridge

        assert deps is not None
        return InlineBridge(deps, signer=signer)
    if settings.task_backend == "arq":
        from bridge.arq_queue import ArqBridge

        return ArqBridge(redis=redis, queue_name=settings.arq_queue_name, signer=signer)
    if settings.task_backend == "trigger":
        from bridge.trigger_rest import TriggerBridge

        return TriggerBridge(api_url=settings.trigger_api_url, secret_key=settings.trigger_secret_key,
                             token_ttl=settings.public_token_ttl_seconds,
                             deadline_seconds=settings.trigger_dispatch_deadline_seconds,
                             run_ttl_seconds=settings.queue_lease_seconds)
    raise ConfigError(f"TASK_BACKEND={settings.task_backend!r} is not available in this build")


def token_signer(settings: Settings, local_secret: str) -> TokenSigner:
    """Under Trigger.dev tokens are signed like the SDK signs them (the secret key, its env id from the
    trigger response); locally with the service's own secret and env id."""
    secret = settings.trigger_secret_key if settings.task_backend == "trigger" else local_secret
    return TokenSigner(secret=secret, env_id=settings.public_token_env_id, ttl_seconds=settings.public_token_ttl_seconds)
