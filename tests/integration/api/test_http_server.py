"""`campaign-chat serve` on a socket, as an attacker or a broken client uses it: endless headers,
half-sent requests, idle connections, too many connections (api/server.py).

Raw sockets, because an HTTP client cannot send half a request. Every wait has a deadline; the
deadlines bound correctness ("closed within the timeout plus slack"), never speed.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import LiveServer

SLACK = 5.0  # scheduling on a loaded 2-core machine; far below "never"


def connect(server: LiveServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the server kept the connection open; got so far: {data[:200]!r}"
        ready, _, _ = select.select([sock], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def parse(response: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_header_past_the_limit_is_431_at_once_and_the_server_does_not_grow(
        live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(CAMPAIGN_CHAT_MAX_HEADER_BYTES="16384")
    assert httpx.get(server.url + "/health").status_code == 200
    before = rss_mb(server.process.pid)

    # Early: 20 KB of one header and the head left unfinished is refused now, not when the head ends.
    sock = connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
    status, headers, body = parse(read_until_closed(sock, time.monotonic() + SLACK))
    assert status == 431 and body["code"] == "headers_too_large", body
    assert headers["connection"] == "close" and headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"

    # Many connections streaming endless headers (what took the server from 717 MB to 1.4 GB): each is
    # refused, and the server's memory stays put while they push 200 MB at it.
    answers: list[int] = []

    def flood() -> None:
        conn = connect(server)
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk, sent = b"a" * 65536, 0
        try:
            while sent < 10_000_000 and not select.select([conn], [], [], 0)[0]:
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed after answering
        answers.append(parse(read_until_closed(conn, time.monotonic() + 30))[0])
        conn.close()

    threads = [threading.Thread(target=flood) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [431] * 20
    assert rss_mb(server.process.pid) - before < 50, (before, rss_mb(server.process.pid))
    assert httpx.get(server.url + "/health").status_code == 200  # and it still serves

    # A head of many small headers counts as a whole, even when it arrives in one read.
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(200))
    sock = connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert parse(read_until_closed(sock, time.monotonic() + SLACK))[0] == 431


def test_half_sent_requests_and_idle_connections_are_closed_within_their_timeouts(
        live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(CAMPAIGN_CHAT_HEADER_TIMEOUT_SECONDS="1", CAMPAIGN_CHAT_BODY_TIMEOUT_SECONDS="1",
                                 CAMPAIGN_CHAT_KEEP_ALIVE_SECONDS="1")
    key = server.create_key()

    half_head = connect(server)
    half_head.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # ...and never the blank line
    status, _, body = parse(read_until_closed(half_head, time.monotonic() + 1 + SLACK))
    assert status == 408 and body["code"] == "request_timeout"

    silent = connect(server)  # opens a connection and sends nothing at all
    assert read_until_closed(silent, time.monotonic() + 1 + SLACK) == b""

    half_body = connect(server)
    half_body.sendall(b"POST /api/campaigns/ai-chat-sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"campaign_id\"")
    status, _, body = parse(read_until_closed(half_body, time.monotonic() + 1 + SLACK))
    assert status == 408 and body["code"] == "request_timeout"

    idle = connect(server)  # a complete request, then nothing: the kept-alive connection is closed
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert parse(read_until_closed(idle, time.monotonic() + 1 + SLACK))[0] == 200

    stray = connect(server)  # bytes that start no request do not keep a connection open either
    stray.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert stray.recv(65536).startswith(b"HTTP/1.1 200")  # the response is out: the connection is idle
    stray.sendall(b"\r\n")
    read_until_closed(stray, time.monotonic() + 1 + SLACK)

    # A request that is slow but steady within the deadlines is served.
    assert httpx.get(server.url + "/health").status_code == 200


def test_connections_past_the_cap_are_refused_and_served_again_once_others_close(
        live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(CAMPAIGN_CHAT_MAX_CONNECTIONS="3")
    held = [connect(server) for _ in range(3)]
    for sock in held:  # each is counted once the server has served a request on it
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")

    extra = connect(server)
    extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = parse(read_until_closed(extra, time.monotonic() + SLACK))
    assert status == 503 and body["code"] == "too_many_connections" and headers["retry-after"] == "1"

    held.pop().close()
    deadline = time.monotonic() + SLACK
    while True:  # the server notices the close on its next loop turn
        try:
            if httpx.get(server.url + "/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "a closed connection's place was never freed"
        time.sleep(0.05)
    for sock in held:
        sock.close()
