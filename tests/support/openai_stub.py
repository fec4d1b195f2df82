"""A small local HTTP server speaking OpenAI's ``/v1/chat/completions`` (tool calls, streamed or not).

It stands in for the provider at the HTTP boundary, so the real OpenAI provider code runs. The
``answer`` callback gets the request body and returns the output tool's arguments (or raises
``StubHttpError`` to answer with an error status).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubHttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


@dataclass
class Seen:
    path: str
    authorization: str
    body: dict[str, Any]


@dataclass
class Stub:
    url: str
    seen: list[Seen] = field(default_factory=list)


def _tokens(body: dict[str, Any]) -> int:
    return sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))


@contextmanager
def openai_stub(answer: Callable[[dict[str, Any]], dict[str, Any]], chunk: int = 9) -> Iterator[Stub]:
    stub = Stub(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.seen.append(Seen(self.path, self.headers.get("Authorization", ""), body))
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": {"message": "not found"}})
            try:
                args = json.dumps(answer(body))
            except StubHttpError as exc:
                return self._send(exc.status, exc.body)
            tool = body["tools"][0]["function"]["name"]
            usage = {"prompt_tokens": _tokens(body), "completion_tokens": len(args) // 4,
                     "total_tokens": _tokens(body) + len(args) // 4}
            base = {"id": "chatcmpl-stub", "created": 1_700_000_000, "model": body["model"]}
            call = {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": args}}
            if not body.get("stream"):
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
                return self._send(200, {**base, "object": "chat.completion", "usage": usage,
                                        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

            def event(choices: list[dict[str, Any]], **extra: Any) -> None:
                chunk_data = {**base, "object": "chat.completion.chunk", "choices": choices, **extra}
                self.wfile.write(f"data: {json.dumps(chunk_data)}\n\n".encode())
                self.wfile.flush()

            first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": tool, "arguments": ""}}
            event([{"index": 0, "delta": {"role": "assistant", "tool_calls": [first]}, "finish_reason": None}])
            for i in range(0, len(args), chunk):
                piece = {"index": 0, "function": {"arguments": args[i:i + chunk]}}
                event([{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}])
            event([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
            event([], usage=usage)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
