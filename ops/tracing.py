"""OpenTelemetry traces, off unless ``CAMPAIGN_CHAT_OTLP_ENDPOINT`` is set.

When off, nothing from OpenTelemetry is imported and every helper is a cheap no-op. When on
(``pip install 'campaign-chat[otel]'``), spans go to the OTLP/HTTP endpoint in batches. The W3C
trace context of the dispatching request travels inside the task payload (``payload.trace``), so
the job — in this process, an ARQ worker or on Trigger.dev — continues the same trace:
POST → claim → dispatch → job → model calls → release.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

log = logging.getLogger("campaign_chat.tracing")

_tracer: Any = None
_provider: Any = None


def enabled() -> bool:
    return _tracer is not None


def configure_tracing(endpoint: str, *, service_name: str = "campaign-chat") -> bool:
    """Start exporting spans to ``endpoint`` (the collector's base URL or its /v1/traces URL)."""
    global _tracer, _provider
    if not endpoint or _tracer is not None:
        return _tracer is not None
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        from core.errors import ConfigError

        raise ConfigError(
            "CAMPAIGN_CHAT_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
            "install the extra with `uv sync --extra otel` (or pip install 'campaign-chat[otel]')"
        ) from exc
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url), schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    _provider = provider
    _tracer = trace.get_tracer("campaign_chat")
    log.info("tracing enabled", extra={"otlp_endpoint": url})
    return True


def flush() -> None:
    """Export finished spans now (at app shutdown, so the last request's trace is not lost)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def shutdown() -> None:
    """Flush and stop the exporter (at process exit)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


class _NoSpan:
    """Returned when tracing is off: accepts every call and does nothing."""

    def set_attribute(self, key: str, value: Any) -> None:
        return None

    def update_name(self, name: str) -> None:
        return None

    def record_error(self, exc: BaseException) -> None:
        return None


_NO_SPAN = _NoSpan()


class _SpanHandle:
    def __init__(self, span: Any) -> None:
        self._span = span

    def set_attribute(self, key: str, value: Any) -> None:
        self._span.set_attribute(key, value)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def record_error(self, exc: BaseException) -> None:
        from opentelemetry.trace import Status, StatusCode

        self._span.record_exception(exc)
        self._span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


class span:  # noqa: N801 - used like a function: `with span("claim"):` / `async with span("claim"), …`
    """A child span of the current one; usable with ``with`` and ``async with``."""

    __slots__ = ("_name", "_attrs", "_kind", "_cm")

    def __init__(self, name: str, *, kind: str = "internal", **attributes: Any) -> None:
        self._name = name
        self._attrs = attributes
        self._kind = kind
        self._cm: Any = None

    def __enter__(self) -> Any:
        if _tracer is None:
            return _NO_SPAN
        from opentelemetry.trace import SpanKind

        attrs = {k: v for k, v in self._attrs.items() if v is not None}
        self._cm = _tracer.start_as_current_span(self._name, kind=getattr(SpanKind, self._kind.upper()),
                                                 attributes=attrs)
        return _SpanHandle(self._cm.__enter__())

    def __exit__(self, *exc: Any) -> bool | None:
        if self._cm is None:
            return None
        return self._cm.__exit__(*exc)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> bool | None:
        return self.__exit__(*exc)


def inject() -> dict[str, str] | None:
    """The current trace context as W3C headers (``traceparent``…), for a task payload; None when off."""
    if _tracer is None:
        return None
    from opentelemetry.propagate import inject as otel_inject

    carrier: dict[str, str] = {}
    otel_inject(carrier)
    return carrier or None


@contextlib.contextmanager
def continued(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Make the trace context in ``carrier`` (a payload's ``trace`` or request headers) current."""
    if _tracer is None or not carrier:
        yield
        return
    from opentelemetry import context
    from opentelemetry.propagate import extract

    token = context.attach(extract(dict(carrier)))
    try:
        yield
    finally:
        context.detach(token)
