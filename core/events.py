"""ChatStreamEvents: what a running task reports while it works.

One strict, tagged union (tag field ``type``), defined once. The jobs emit them through a
:class:`Reporter` that the launcher provides; realtime subscribers receive them on the run's
``chat`` stream and as a compact state in the run's metadata. Their JSON Schema is published in
``contracts/openapi.yaml`` (``components.schemas.ChatStreamEvent``).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

from core.status import Outcome

Phase = Literal["queued", "loading", "thinking", "writing", "saving"]


class _Event(msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=True):
    pass


class PhaseEvent(_Event, tag="phase"):
    phase: Phase


class ReplyDeltaEvent(_Event, tag="reply_delta"):
    text: str


class ReplyEvent(_Event, tag="reply"):
    """The complete assistant reply (sent once, after the last delta)."""

    text: str


class SkeletonEvent(_Event, tag="skeleton"):
    skeleton: dict[str, Any]
    framework_version: int


class DraftEvent(_Event, tag="draft"):
    subject: str | None
    body: str | None


class ExampleEvent(_Event, tag="example"):
    """One generated example (or a lead that failed), for generate-email-examples."""

    example: dict[str, Any]


class RetryEvent(_Event, tag="retry"):
    """The validators sent the model's output back; ``reason`` is what it was told.

    The reply streamed so far belonged to the rejected attempt: the ``reply_delta`` events that
    follow restart the reply from the beginning (the final ``reply`` event is authoritative)."""

    attempt: int
    reason: str


class UsageEvent(_Event, tag="usage"):
    input_tokens: int
    output_tokens: int
    requests: int
    cost_usd: float


class ErrorEvent(_Event, tag="error"):
    code: str
    message: str


class DoneEvent(_Event, tag="done"):
    status: Outcome


ChatStreamEvent = (
    PhaseEvent
    | ReplyDeltaEvent
    | ReplyEvent
    | SkeletonEvent
    | DraftEvent
    | ExampleEvent
    | RetryEvent
    | UsageEvent
    | ErrorEvent
    | DoneEvent
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ChatStreamEvent)


def encode_event(event: ChatStreamEvent) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> ChatStreamEvent:
    return _decoder.decode(data)


def event_schema() -> dict[str, Any]:
    """JSON Schema of the union, as published in the contract."""
    return msgspec.json.schema(ChatStreamEvent)


class Reporter(Protocol):
    """Where a job sends its events: everything the run lifecycle calls, on every backend.

    Implementations must not raise into the job (a lost progress report must not fail a turn).
    ``emit`` may buffer; ``flush`` writes what is buffered; ``settled`` is called once the run's
    outcome (its final status) is stored, to wake subscribers waiting for it; ``aclose`` releases
    whatever the reporter holds (connections, clients) and is called last.
    """

    async def emit(self, event: ChatStreamEvent) -> None: ...

    async def flush(self) -> None: ...

    async def settled(self) -> None: ...

    async def aclose(self) -> None: ...


class NullReporter:
    """Drops every event (dry runs and tests that only look at the result)."""

    async def emit(self, event: ChatStreamEvent) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def settled(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RecordingReporter(NullReporter):
    """Keeps every event in order; used by tests and by the CLI's dry runs."""

    def __init__(self) -> None:
        self.events: list[ChatStreamEvent] = []
        self.settled_calls = 0

    async def emit(self, event: ChatStreamEvent) -> None:
        self.events.append(event)

    async def settled(self) -> None:
        self.settled_calls += 1
