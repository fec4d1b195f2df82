"""``/metrics`` on its own port (``CAMPAIGN_CHAT_METRICS_PORT``), for the API or a worker process.

A deliberately tiny HTTP/1.1 responder on asyncio: GET /metrics and nothing else, one response
per connection. The same access rule as on the main port applies: open when bound to a private
address, otherwise a valid API key is required.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from core.errors import Unauthorized
from ops import metrics

log = logging.getLogger("campaign_chat.metrics")

_MAX_HEADER_BYTES = 16_384


class MetricsServer:
    def __init__(self, busy_sessions: Any, *, host: str, port: int, authorize: Any = None, redis: Any = None,
                 queue_name: str | None = None) -> None:
        self._busy_sessions = busy_sessions
        self._host = host
        self._port = port
        self._authorize = authorize  # async (authorization header) -> None, raises Unauthorized
        self._redis = redis
        self._queue = queue_name
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("metrics listening", extra={"host": self._host, "port": self.port})

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
            status, body, ctype = await self._respond(head[:_MAX_HEADER_BYTES].decode("latin-1"))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _respond(self, head: str) -> tuple[int, bytes, str]:
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split()
        if len(parts) < 2 or parts[1].split("?", 1)[0] != "/metrics":
            return 404, b'{"error":"No such route","code":"not_found"}', "application/json"
        if parts[0] not in ("GET", "HEAD"):
            return 405, b'{"error":"Use GET","code":"method_not_allowed"}', "application/json"
        if self._authorize is not None:
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            try:
                await self._authorize(headers.get("authorization"))
            except Unauthorized as exc:
                return 401, f'{{"error":"{exc.message}","code":"unauthorized"}}'.encode(), "application/json"
        body, ctype = await metrics.render(self._busy_sessions, redis=self._redis, queue_name=self._queue)
        return 200, body, ctype
