"""A model provider that misbehaves on purpose, at the HTTP boundary (``/v1/chat/completions``).

``good`` answers with a valid output tool call (streamed, through tests.support.openai_stub);
``held`` answers the same but only once ``gate`` is opened; ``429`` / ``503`` answer with that
status; ``hang`` never answers; ``garbage`` answers 200 with a body that is not the API's format.
``requests`` counts the calls the service made (what the user pays for).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.openai_stub import Seen, StubHttpError, openai_stub

GOOD_ANSWER = {
    "reply": "Here is a first draft for restaurant owners.",
    "draft_subject": "Payroll in half the time",
    "draft_body": "Hi there,\n\nRestaurants using us run payroll in half the time.\n\nWorth a short call next week?",
    "skeleton": None,
}
HANG_SECONDS = 60


@dataclass
class Provider:
    url: str
    mode: str
    gate: threading.Event = field(default_factory=threading.Event)
    seen: list[Seen] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.seen)


@contextmanager
def provider(mode: str) -> Iterator[Provider]:
    if mode == "garbage":
        with _garbage_server() as p:
            yield p
        return
    state = Provider(url="", mode=mode)

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if state.mode == "429":
            raise StubHttpError(429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
        if state.mode == "503":
            raise StubHttpError(503, {"error": {"message": "The server is overloaded", "type": "server_error"}})
        if state.mode == "hang":
            state.gate.wait(HANG_SECONDS)
        if state.mode == "held":
            state.gate.wait(HANG_SECONDS)
        return GOOD_ANSWER

    # Handler threads still holding a request when the test ends are daemon threads: they end on
    # their own (HANG_SECONDS) without writing to a connection whose client is gone.
    with openai_stub(answer) as stub:
        state.url, state.seen = stub.url, stub.seen
        yield state


@contextmanager
def _garbage_server() -> Iterator[Provider]:
    state = Provider(url="", mode="garbage")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            state.seen.append(Seen(self.path, self.headers.get("Authorization", ""), {}))
            data = b"<html><body>502 Bad Gateway</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(b"data: " + data + b"\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
