"""The HTTP server ``campaign-chat serve`` runs: uvicorn with its httptools parser, bounded.

uvicorn's httptools protocol (the fast one; h11 is pure Python) has no limit on a request head's size
and no deadline for reading a request: a client sending an endless header grows the process without
bound, and one sending half a request holds its connection forever. uvicorn's public configuration
covers idle keep-alive connections (``timeout_keep_alive``); the rest is added by
:class:`BoundedHttpToolsProtocol`, a thin subclass handed to uvicorn through its public ``http=`` option:

* the request line plus headers may take ``CAMPAIGN_CHAT_MAX_HEADER_BYTES``: beyond it, 431 and the
  connection is closed, after at most one socket read past the limit (the parser never buffers more);
* a request head must arrive within ``CAMPAIGN_CHAT_HEADER_TIMEOUT_SECONDS`` of the connection opening
  (or of its first byte, on a kept-alive connection), a body within ``CAMPAIGN_CHAT_BODY_TIMEOUT_SECONDS``
  of its head: otherwise 408 and the connection is closed (slowloris);
* at most ``CAMPAIGN_CHAT_MAX_CONNECTIONS`` connections are open: one more is answered 503 and closed
  before anything is read from it. (uvicorn's ``limit_concurrency`` is not used: it counts only when a
  request arrives, so idle connections pile up uncounted, and it answers ``text/plain``.)

Every refusal is a JSON ``{error, code}`` with ``Connection: close``. After writing it the server
closes its sending side and keeps discarding what the client still sends for a moment
(:data:`LINGER_SECONDS`) before closing: closing a socket with unread data makes the kernel answer
with a reset, and the client would likely lose the response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.settings import Settings
from ops.process import settled

log = logging.getLogger("campaign_chat.http")

LINGER_SECONDS = 2.0

_HEAD, _BODY, _DONE = "head", "body", "done"  # where the parser is in the current request


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(max_header_bytes=settings.max_header_bytes, header_timeout=settings.header_timeout_seconds,
                   body_timeout=settings.body_timeout_seconds, max_connections=settings.max_connections)


def refusal(status: int, reason: str, code: str, message: str, extra: tuple[bytes, ...] = ()) -> bytes:
    """A complete HTTP/1.1 response that ends the connection (built once per refusal kind)."""
    body = json.dumps({"error": message, "code": code}).encode()
    head = [f"HTTP/1.1 {status} {reason}".encode(), b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(), b"connection: close",
            b"x-content-type-options: nosniff", b"cache-control: no-store", *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


HEAD_TOO_LARGE = (431, "Request Header Fields Too Large", "headers_too_large",
                  "The request line and headers are larger than this server accepts")
HEAD_TIMEOUT = (408, "Request Timeout", "request_timeout", "The request headers did not arrive in time")
BODY_TIMEOUT = (408, "Request Timeout", "request_timeout", "The request body did not arrive in time")
TOO_MANY = (503, "Service Unavailable", "too_many_connections", "Too many open connections; retry shortly")
MALFORMED = (400, "Bad Request", "bad_request", "Invalid HTTP request")


_last_refusal_warning = 0.0


def _warn_refused(open_connections: int) -> None:
    """At most one warning a minute: a flood of refused connections must not flood the log too."""
    global _last_refusal_warning
    now = time.monotonic()
    if now - _last_refusal_warning >= 60:
        _last_refusal_warning = now
        log.warning("refusing connections: %d open, the limit (CAMPAIGN_CHAT_MAX_CONNECTIONS)", open_connections)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head size limit, read deadlines and a connection cap."""

    limits: ClassVar[HttpLimits]  # set on the subclass :func:`bounded_protocol` makes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _HEAD
        self._head_bytes = 0  # bytes received since the last head was complete (the next head's so far)
        self._deadline: asyncio.TimerHandle | None = None
        self._refusing: tuple[Any, ...] | None = None  # decided inside a parser callback, sent after it
        self._closing_down = False  # a refusal was written: discard whatever still arrives

    # -- connection ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.transport = transport  # refused before uvicorn counts it: nothing else to set up
            _warn_refused(len(self.connections))
            self._refuse(TOO_MANY, extra=(b"retry-after: 1",))
            return
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, HEAD_TIMEOUT)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closing_down:
            return
        if self._phase != _BODY:  # reading a head, or between requests (the next head's first bytes)
            self._head_bytes += len(data)
        super().data_received(data)
        if self._closing_down:
            return
        if self._refusing is not None:
            self._refuse(self._refusing)
        elif self._phase != _BODY and self._head_bytes > self.limits.max_header_bytes:
            # An unfinished head past the limit: the parser holds at most this one read beyond it.
            self._refuse(HEAD_TOO_LARGE)
        elif self._deadline is None:
            if self._phase == _BODY:
                self._arm(self.limits.body_timeout, BODY_TIMEOUT)
            elif self.timeout_keep_alive_task is None and (self.cycle is None or self.cycle.response_complete):
                # Bytes on an idle kept-alive connection that start no request (uvicorn stopped its
                # keep-alive timer on seeing them): the next head is due within the head timeout.
                self._arm(self.limits.header_timeout, HEAD_TIMEOUT)

    # -- parser callbacks ---------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._refusing is not None:
            return
        super().on_message_begin()
        self._phase = _HEAD
        if self._deadline is None:
            self._arm(self.limits.header_timeout, HEAD_TIMEOUT)

    def on_headers_complete(self) -> None:
        if self._refusing is not None:
            return
        self._disarm()
        # Exact size, for a head that arrived whole in one read (the running count above cannot tell
        # where in a read the head ended).
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        self._head_bytes = 0
        if size > self.limits.max_header_bytes:
            self._refusing = HEAD_TOO_LARGE
            return
        self._phase = _BODY
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refusing is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refusing is not None:
            return
        self._disarm()
        self._phase = _DONE
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, as our JSON error."""
        self._refuse(MALFORMED)

    # -- refusals and deadlines ---------------------------------------------------------------------

    def _arm(self, seconds: float, refusal_kind: tuple[Any, ...]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, refusal_kind)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, refusal_kind: tuple[Any, ...]) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._phase != _BODY and self._head_bytes == 0:
            self.transport.close()  # nothing of a request arrived: no one to answer
            return
        self._refuse(refusal_kind)

    def _refuse(self, kind: tuple[Any, ...], extra: tuple[bytes, ...] = ()) -> None:
        self._disarm()
        self._closing_down = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The application may be waiting for the rest of the body: it sees the client gone, and
            # whatever it answers is dropped (uvicorn writes nothing for a disconnected cycle).
            cycle.disconnected = True
            cycle.message_event.set()
        if not self._may_answer(cycle):
            self.transport.close()
            return
        status, reason, code, message = kind
        self.transport.write(refusal(status, reason, code, message, extra))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self.flow is not None:
            self.flow.resume_reading()  # keep draining the socket (see the module docstring)
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


    def _may_answer(self, cycle: Any) -> bool:
        """Whether a refusal would be the answer the client is waiting for. In a body, the refusal is
        about the request the application holds: answerable until its own response started. Anywhere
        else it is about a next request: answerable once every earlier response is complete."""
        if cycle is None:
            return True
        return not cycle.response_started if self._phase == _BODY else cycle.response_complete


def bounded_protocol(limits: HttpLimits) -> type[BoundedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, carrying ``limits``."""
    return type("CampaignChatHttpProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})


def run(app: Any, settings: Settings, *, host: str, port: int) -> None:
    import uvicorn

    app.on_startup.append(lambda _app: settled())  # after the lifespan built everything (ops.process)
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=bounded_protocol(HttpLimits.from_settings(settings)),
        timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]  # seconds, float is fine
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,  # our structured logging (ops.logs) handles uvicorn's loggers too
        lifespan="on",
    )
