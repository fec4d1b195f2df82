"""Per-process observability set-up, called once by every entry point (serve, worker, CLI)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from ops import tracing
from ops.logs import configure_logging


def configure_process(settings: Settings, *, stream: Any = None) -> None:
    """Structured logs always; traces only when an OTLP endpoint is configured."""
    configure_logging(settings, stream=stream)
    if settings.otlp_endpoint:
        tracing.configure_tracing(settings.otlp_endpoint)
