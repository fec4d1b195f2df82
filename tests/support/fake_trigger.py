"""A fake Trigger.dev platform for tests: written from the wire protocol, sharing no code with the service.

It stands on the other side of the comparison with our own realtime API, so it must not import
anything from the service (``realtime/``, ``bridge/``, ``core/``...): only the standard library.
What it serves follows Trigger.dev's wire protocol (trigger route, Electric shape, v1 SSE streams) and,
for the writer side, what @trigger.dev/core 4.5.10 sends from inside a task:

* ``POST /api/v1/tasks/{task}/trigger``: creates a run (``PENDING``), answers ``{id, isCached}`` with
  ``x-trigger-jwt`` (HS256 with the secret key, ``read:runs:<id>``) and ``x-trigger-jwt-claims``; then
  hands the run to ``on_trigger`` (the test's launcher of a worker). Same idempotency key, same run.
* The workload API a deployed worker's run controller calls:
  ``POST /api/v1/workload-actions/runs/{id}/snapshots/{snapshot}/attempts/start`` (→ ``EXECUTING``,
  answers the ``TaskRunExecution`` and the task's environment variables) and ``.../attempts/complete``
  (applies the flushed metadata, then as the run engine does with the completion: ``ok`` →
  ``COMPLETED_SUCCESSFULLY`` with the output packet as sent (``output`` text + ``outputType``); a
  failure with ``retry`` set → ``RETRYING_AFTER_FAILURE``, and after ``retry.delay`` ms a new attempt
  (a new snapshot, ``on_trigger`` again); a failure without it (the worker skipped retrying, or the
  attempts are used up) → ``COMPLETED_WITH_ERRORS`` with the worker's ``TaskRunError`` as ``error``;
  ``completedAt`` set on either end).
* What the SDK sends from inside a task: ``PUT /api/v1/runs/{id}/metadata`` (metadata operations),
  ``PUT /realtime/v1/streams/{id}/{target}/{key}`` (registers the stream, answers ``{version: "v1"}``),
  ``POST`` there (the v1 writer's long-lived NDJSON body, read as it arrives), ``HEAD`` there (last
  chunk index, for the writer's resume), ``POST .../append`` (one part), and OTLP posts under ``/otel``.
* What subscribers read, as Trigger.dev's realtime API serves it: the Electric shape
  ``GET /realtime/v1/runs/{id}`` (snapshot, then live long-poll answered as soon as the run changes) and
  the v1 SSE stream ``GET /realtime/v1/streams/{id}/{key}`` (``id: <ms>-<seq>``, ``Last-Event-ID``
  resume, ``: ping``, closed once the run finished and the stream is drained).

Every request is recorded (:attr:`FakeTrigger.requests`) with the route it matched, so tests can
assert what the SDK actually sent; each attempt's completion is kept too (:attr:`FakeRun.completions`).
Retries follow the worker's decision (the ``retry`` it sends); the engine's own checks on top of it
(non-retriable internal error codes, the run's locked ``maxAttempts``) are only capped by
:data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ISSUER = "https://id.trigger.dev"
AUDIENCE = "https://api.trigger.dev"
ENV_ID = "env_fake_production"
TERMINAL = frozenset({"COMPLETED_SUCCESSFULLY", "COMPLETED_WITH_ERRORS", "CANCELED", "INTERRUPTED", "CRASHED",
                      "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"})
LONG_POLL_SECONDS = 20.0
MAX_ATTEMPTS = 10  # what the fake allows whatever the worker asks (the engine's MAX_TASK_RUN_ATTEMPTS is larger)
PING_SECONDS = 5.0
JWT_HEADER = b'{"alg":"HS256"}'

SHAPE_SCHEMA = {
    "id": {"type": "text"}, "taskIdentifier": {"type": "text"}, "friendlyId": {"type": "text"},
    "status": {"type": "text"}, "createdAt": {"type": "timestamp"}, "updatedAt": {"type": "timestamp"},
    "startedAt": {"type": "timestamp"}, "delayUntil": {"type": "timestamp"}, "queuedAt": {"type": "timestamp"},
    "expiredAt": {"type": "timestamp"}, "completedAt": {"type": "timestamp"}, "number": {"type": "int4"},
    "isTest": {"type": "bool"}, "usageDurationMs": {"type": "int4"}, "costInCents": {"type": "float8"},
    "baseCostInCents": {"type": "float8"}, "ttl": {"type": "text"}, "payload": {"type": "text"},
    "payloadType": {"type": "text"}, "metadata": {"type": "text"}, "metadataType": {"type": "text"},
    "output": {"type": "text"}, "outputType": {"type": "text"}, "runTags": {"type": "text", "dims": 1},
    "error": {"type": "jsonb"}, "realtimeStreams": {"type": "text", "dims": 1},
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_jwt(secret: str, claims: dict[str, Any], ttl_seconds: int = 3600) -> str:
    """HS256 like @trigger.dev/core's generateJWT: header exactly {"alg":"HS256"}, iss/aud/iat/exp added."""
    now = int(time.time())
    body = {**claims, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl_seconds}
    signing_input = f"{_b64url(JWT_HEADER)}.{_b64url(json.dumps(body, separators=(',', ':')).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def read_jwt(secret: str, token: str) -> dict[str, Any] | None:
    """The claims of a valid public token signed with ``secret``; None when anything is off."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url_decode(signature)):
            return None
        if json.loads(_b64url_decode(header)).get("alg") != "HS256":
            return None
        claims = json.loads(_b64url_decode(payload))
    except (ValueError, TypeError):
        return None
    if claims.get("iss") != ISSUER or claims.get("aud") != AUDIENCE or claims.get("pub") is not True:
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    return claims


def _ts(moment: datetime | None) -> str | None:
    """Postgres ``timestamp`` text as Electric sends it: UTC, no zone suffix."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pg_array(values: list[str]) -> str:
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _superjson_value(data: str | None, data_type: str) -> Any:
    """An IO packet's value (stringifyIO): plain JSON, or superjson ``{"json": …}`` of JSON values."""
    if data is None:
        return None
    value = json.loads(data)
    if data_type == "application/super+json":
        return value.get("json")
    return value


@dataclass
class Recorded:
    method: str
    route: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class StreamLog:
    chunks: list[tuple[int, Any]] = field(default_factory=list)  # (arrival ms, value)
    writers: int = 0


@dataclass
class FakeRun:
    friendly_id: str
    internal_id: str
    task: str
    payload: str
    payload_type: str
    tags: list[str]
    idempotency_key: str | None
    snapshot_id: str
    created_at: datetime
    updated_at: datetime
    status: str = "PENDING"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    output: str | None = None
    output_type: str = "application/json"
    error: dict[str, Any] | None = None
    realtime_streams: list[str] = field(default_factory=list)
    streams: dict[str, StreamLog] = field(default_factory=dict)
    attempts: int = 0  # attempts started
    completions: list[dict[str, Any]] = field(default_factory=list)  # each attempt's completion, as sent
    version: int = 1

    @property
    def completion(self) -> dict[str, Any] | None:
        """The last attempt's completion."""
        return self.completions[-1] if self.completions else None

    @property
    def finished(self) -> bool:
        return self.completed_at is not None

    def row(self) -> dict[str, Any]:
        duration = 0
        if self.started_at is not None and self.completed_at is not None:
            duration = int((self.completed_at - self.started_at).total_seconds() * 1000)
        return {
            "id": self.internal_id, "taskIdentifier": self.task, "friendlyId": self.friendly_id,
            "status": self.status, "createdAt": _ts(self.created_at), "updatedAt": _ts(self.updated_at),
            "startedAt": _ts(self.started_at), "delayUntil": None, "queuedAt": _ts(self.created_at),
            "expiredAt": None, "completedAt": _ts(self.completed_at), "number": "1", "isTest": "f",
            "usageDurationMs": str(duration), "costInCents": "0", "baseCostInCents": "0", "ttl": None,
            "payload": self.payload, "payloadType": self.payload_type,
            "metadata": None if self.metadata is None else json.dumps(self.metadata),
            "metadataType": "application/json", "output": self.output, "outputType": self.output_type,
            "runTags": _pg_array(self.tags) if self.tags else None,
            "error": None if self.error is None else json.dumps(self.error),
            "realtimeStreams": _pg_array(self.realtime_streams),
        }


def apply_operations(metadata: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Metadata operations as the platform applies them (top-level keys; ``$.`` paths are not needed here)."""
    out = dict(metadata)
    for op in operations or []:
        kind, key = op.get("type"), op.get("key")
        if kind == "set":
            out[key] = op.get("value")
        elif kind == "delete":
            out.pop(key, None)
        elif kind == "append":
            current = out.get(key)
            out[key] = [*current, op["value"]] if isinstance(current, list) else (
                [op["value"]] if current is None else [current, op["value"]])
        elif kind == "remove" and isinstance(out.get(key), list):
            out[key] = [item for item in out[key] if item != op.get("value")]
        elif kind == "increment":
            out[key] = (out.get(key) or 0) + op.get("value", 0)
        elif kind == "update":
            out = dict(op.get("value") or {})
        else:
            raise ValueError(f"unknown metadata operation {op!r}")
    return out


class FakeTrigger:
    """Start with :meth:`start`, stop with :meth:`close`; ``url`` is the base URL for every client."""

    def __init__(self, secret_key: str, *, task_env: dict[str, str] | None = None,
                 on_trigger: Callable[[FakeTrigger, FakeRun], None] | None = None) -> None:
        self.secret_key = secret_key
        self.task_env = dict(task_env or {})
        self.on_trigger = on_trigger
        self.requests: list[Recorded] = []
        self.runs: dict[str, FakeRun] = {}
        self._by_idempotency: dict[str, str] = {}
        self._cond = threading.Condition()
        self._cursor = 0
        self._closing = False
        self._timers: list[threading.Timer] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-trigger", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeTrigger:
        self._thread.start()
        return self

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        self.server.shutdown()
        self.server.server_close()

    # -- what tests read -------------------------------------------------------------------------

    def run(self, run_id: str) -> FakeRun:
        with self._cond:
            return self.runs[run_id]

    def wait_finished(self, run_id: str, timeout: float) -> FakeRun:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (run_id in self.runs and self.runs[run_id].finished):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"run {run_id} did not finish within {timeout}s")
                self._cond.wait(left)
            return self.runs[run_id]

    def chunks(self, run_id: str, key: str) -> list[Any]:
        with self._cond:
            log = self.runs[run_id].streams.get(key)
            return [value for _, value in log.chunks] if log else []

    def requests_for(self, run_id: str) -> list[Recorded]:
        return [r for r in list(self.requests) if f"/{run_id}/" in r.path + "/"]

    def crash(self, run_id: str, message: str, snapshot_id: str | None = None) -> None:
        """The worker died without completing the attempt: what the platform records as CRASHED.
        ``snapshot_id``: the attempt's; nothing happens when the run has moved on (a retry) since."""
        with self._cond:
            run = self.runs[run_id]
            if run.finished or run.status == "RETRYING_AFTER_FAILURE" or (
                    snapshot_id is not None and snapshot_id != run.snapshot_id):
                return
            run.status = "CRASHED"
            run.error = {"type": "INTERNAL_ERROR", "code": "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE",
                         "message": message}
            run.completed_at = datetime.now(UTC)
            self._touch(run)

    # -- state changes (hold self._cond) -----------------------------------------------------------

    def _touch(self, run: FakeRun) -> None:
        # updatedAt strictly increases (in ms) on every change, as subscribers expect.
        run.updated_at = max(datetime.now(UTC), run.updated_at + timedelta(milliseconds=1))
        run.version += 1
        self._cond.notify_all()

    def _new_run(self, task: str, body: dict[str, Any]) -> tuple[FakeRun, bool]:
        options = body.get("options") or {}
        key = options.get("idempotencyKey")
        if key and key in self._by_idempotency:
            return self.runs[self._by_idempotency[key]], True
        payload_type = options.get("payloadType") or "application/json"
        payload = body.get("payload")
        raw = json.dumps(payload) if payload_type == "application/json" else payload
        tags = options.get("tags") or []
        now = datetime.now(UTC)
        run = FakeRun(friendly_id=f"run_{secrets.token_hex(12)}", internal_id=f"cm{secrets.token_hex(11)}",
                      task=task, payload=raw, payload_type=payload_type,
                      tags=sorted([tags] if isinstance(tags, str) else [t for t in tags if t]),
                      idempotency_key=key, snapshot_id=f"snapshot_{secrets.token_hex(10)}",
                      created_at=now, updated_at=now)
        self.runs[run.friendly_id] = run
        if key:
            self._by_idempotency[key] = run.friendly_id
        return run, False

    def _complete(self, run: FakeRun, completion: dict[str, Any]) -> dict[str, Any]:
        """An attempt's completion, applied as the run engine applies it; the answer's ``result``."""
        run.completions.append(completion)
        flushed = completion.get("flushedMetadata") or {}
        if flushed.get("data"):
            ops = _superjson_value(flushed["data"], flushed.get("dataType", "application/json"))
            run.metadata = apply_operations(run.metadata or {}, (ops or {}).get("operations") or [])
        retry = completion.get("retry")
        if completion.get("ok"):
            run.status = "COMPLETED_SUCCESSFULLY"
            run.output = completion.get("output")
            run.output_type = completion.get("outputType") or "application/json"
        elif isinstance(retry, dict) and run.attempts < MAX_ATTEMPTS and not self._closing:
            run.status = "RETRYING_AFTER_FAILURE"  # subscribers see EXECUTING, completedAt stays null
            timer = threading.Timer(max(0.0, float(retry.get("delay") or 0) / 1000), self._retry, (run.friendly_id,))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
            self._touch(run)
            return {"attemptStatus": "RETRY_QUEUED", **self._snapshot(run, "QUEUED", "Retry queued")}
        else:
            run.status = "COMPLETED_WITH_ERRORS"
            run.error = completion.get("error")
        run.completed_at = datetime.now(UTC)
        self._touch(run)
        return {"attemptStatus": "RUN_FINISHED", **self._snapshot(run, "FINISHED", "Run finished")}

    def _retry(self, run_id: str) -> None:
        """The retry's time has come: a new attempt on a new snapshot, handed to ``on_trigger``."""
        with self._cond:
            run = self.runs[run_id]
            if self._closing or run.status != "RETRYING_AFTER_FAILURE":
                return
            run.snapshot_id = f"snapshot_{secrets.token_hex(10)}"
            self._touch(run)
        if self.on_trigger is not None:
            self.on_trigger(self, run)

    def _execution(self, run: FakeRun) -> dict[str, Any]:
        started = _iso(run.started_at)
        return {
            "attempt": {"number": run.attempts, "startedAt": started},
            "run": {"id": run.friendly_id, "payload": run.payload, "payloadType": run.payload_type,
                    "tags": run.tags, "isTest": False, "isReplay": False, "createdAt": _iso(run.created_at),
                    "startedAt": started, "maxDuration": 300, "version": "20260101.1", "baseCostInCents": 0,
                    "durationMs": 0, "costInCents": 0, "realtimeStreamsVersion": "v1"},
            "task": {"id": run.task, "filePath": "src/tasks.ts"},
            "queue": {"id": "queue_fake", "name": f"task/{run.task}"},
            "environment": {"id": ENV_ID, "slug": "prod", "type": "PRODUCTION"},
            "organization": {"id": "org_fake", "slug": "campaign-chat", "name": "campaign-chat"},
            "project": {"id": "project_fake", "ref": "proj_campaign_chat", "slug": "campaign-chat",
                        "name": "campaign-chat"},
            "machine": {"name": "small-1x", "cpu": 0.5, "memory": 0.5, "centsPerMs": 0},
            "deployment": {"id": "deployment_fake", "shortCode": "fake", "version": "20260101.1",
                           "runtime": "node", "runtimeVersion": "20"},
        }

    def _snapshot(self, run: FakeRun, status: str, description: str) -> dict[str, Any]:
        return {"snapshot": {"id": f"internal_{run.snapshot_id}", "friendlyId": run.snapshot_id,
                             "executionStatus": status, "description": description,
                             "createdAt": _iso(datetime.now(UTC))},
                "run": {"id": run.internal_id, "friendlyId": run.friendly_id, "status": run.status,
                        "attemptNumber": run.attempts}}

    # -- authorization ---------------------------------------------------------------------------

    def _may_read(self, authorization: str | None, run: FakeRun) -> int:
        """200, or the status Trigger.dev answers (401 bad token, 403 token for something else)."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        if token == self.secret_key:
            return 200
        claims = read_jwt(self.secret_key, token)
        if claims is None or claims.get("sub") != ENV_ID:
            return 401
        granted = {"admin", "read:all", "read:runs", f"read:runs:{run.friendly_id}", f"read:tasks:{run.task}",
                   *(f"read:tags:{tag}" for tag in run.tags)}
        return 200 if granted & set(claims.get("scopes") or []) else 403

    # -- HTTP ------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            # plumbing

            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                merged = {"Content-Type": "application/json", "Content-Length": str(len(data)),
                          "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "*", **(headers or {})}
                for name, value in merged.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _record(self, route: str, body: Any) -> Recorded:
                parts = urlsplit(self.path)
                recorded = Recorded(method=self.command, route=route, path=unquote(parts.path),
                                    query=parse_qs(parts.query), headers={k.lower(): v for k, v in self.headers.items()},
                                    body=body)
                fake.requests.append(recorded)
                return recorded

            def _json_body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not raw:
                    return None
                try:
                    return json.loads(raw)
                except ValueError:
                    return raw.decode(errors="replace")

            def _secret_ok(self) -> bool:
                return self.headers.get("Authorization") == f"Bearer {fake.secret_key}"

            def _run_or_404(self, run_id: str) -> FakeRun | None:
                with fake._cond:
                    run = fake.runs.get(run_id)
                if run is None:
                    self._send(404, {"error": "Run not found"})
                return run

            # dispatch

            def do_GET(self) -> None:  # noqa: N802
                path = unquote(urlsplit(self.path).path)
                if m := re.fullmatch(r"/realtime/v1/runs/([^/]+)", path):
                    self._record("GET /realtime/v1/runs/{id}", None)
                    return self._shape(m.group(1))
                if m := re.fullmatch(r"/realtime/v1/streams/([^/]+)/([^/]+)", path):
                    self._record("GET /realtime/v1/streams/{id}/{key}", None)
                    return self._sse(m.group(1), m.group(2))
                self._record("GET (unknown)", None)
                self._send(404, {"error": "Not found"})

            def do_HEAD(self) -> None:  # noqa: N802
                path = unquote(urlsplit(self.path).path)
                if m := re.fullmatch(r"/realtime/v1/streams/([^/]+)/([^/]+)/([^/]+)", path):
                    self._record("HEAD /realtime/v1/streams/{id}/{target}/{key}", None)
                    run = self._run_or_404(m.group(1))
                    if run is None:
                        return
                    with fake._cond:
                        log = run.streams.get(m.group(3))
                        last = len(log.chunks) - 1 if log else -1
                    return self._send(200, None, {"X-Last-Chunk-Index": str(last)})
                self._record("HEAD (unknown)", None)
                self._send(404)

            def do_PUT(self) -> None:  # noqa: N802
                path = unquote(urlsplit(self.path).path)
                if m := re.fullmatch(r"/api/v1/runs/([^/]+)/metadata", path):
                    body = self._json_body()
                    self._record("PUT /api/v1/runs/{id}/metadata", body)
                    return self._metadata(m.group(1), body)
                if m := re.fullmatch(r"/realtime/v1/streams/([^/]+)/([^/]+)/([^/]+)", path):
                    self._record("PUT /realtime/v1/streams/{id}/{target}/{key}", self._json_body())
                    return self._create_stream(m.group(1), m.group(3))
                self._record("PUT (unknown)", self._json_body())
                self._send(404, {"error": "Not found"})

            def do_POST(self) -> None:  # noqa: N802
                path = unquote(urlsplit(self.path).path)
                if m := re.fullmatch(r"/api/v1/tasks/([^/]+)/trigger", path):
                    body = self._json_body()
                    self._record("POST /api/v1/tasks/{task}/trigger", body)
                    return self._trigger(m.group(1), body)
                if m := re.fullmatch(r"/api/v1/workload-actions/runs/([^/]+)/snapshots/([^/]+)/attempts/(start|complete)",
                                     path):
                    body = self._json_body()
                    self._record(f"POST /api/v1/workload-actions/runs/{{id}}/snapshots/{{snapshot}}/attempts/{m.group(3)}",
                                 body)
                    return self._attempt(m.group(1), m.group(3), body)
                if m := re.fullmatch(r"/realtime/v1/streams/([^/]+)/([^/]+)/([^/]+)/append", path):
                    body = self._json_body()
                    self._record("POST /realtime/v1/streams/{id}/{target}/{key}/append", body)
                    return self._append(m.group(1), m.group(3), body)
                if m := re.fullmatch(r"/realtime/v1/streams/([^/]+)/([^/]+)/([^/]+)", path):
                    recorded = self._record("POST /realtime/v1/streams/{id}/{target}/{key}", [])
                    return self._write_stream(m.group(1), m.group(3), recorded)
                if path.startswith("/otel/"):
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else self._read_chunked_all()
                    self._record(f"POST {path}", {"bytes": len(body)})
                    if "json" in self.headers.get("Content-Type", ""):
                        return self._send(200, {})  # an empty Export*ServiceResponse
                    return self._send(200, None, {"Content-Type": "application/x-protobuf"})
                self._record("POST (unknown)", self._json_body())
                self._send(404, {"error": "Not found"})

            # platform API

            def _trigger(self, task: str, body: Any) -> None:
                if not self._secret_ok():
                    return self._send(401, {"error": "Invalid or Missing API key"})
                if not isinstance(body, dict) or "payload" not in body:
                    return self._send(400, {"error": "Invalid request body"})
                with fake._cond:
                    run, cached = fake._new_run(task, body)
                claims = {"sub": ENV_ID, "pub": True,
                          "scopes": [f"read:runs:{run.friendly_id}", f"write:inputStreams:{run.friendly_id}"]}
                self._send(200, {"id": run.friendly_id, "isCached": cached},
                           {"x-trigger-jwt": mint_jwt(fake.secret_key, claims),
                            "x-trigger-jwt-claims": json.dumps(claims)})
                if not cached and fake.on_trigger is not None:
                    fake.on_trigger(fake, run)

            def _attempt(self, run_id: str, action: str, body: Any) -> None:
                run = self._run_or_404(run_id)
                if run is None:
                    return
                with fake._cond:
                    if action == "start":
                        run.attempts += 1
                        run.status = "EXECUTING"
                        run.started_at = run.started_at or datetime.now(UTC)
                        fake._touch(run)
                        answer = {**fake._snapshot(run, "EXECUTING", "Attempt created"),
                                  "execution": fake._execution(run), "envVars": dict(fake.task_env)}
                    else:
                        answer = {"result": fake._complete(run, (body or {}).get("completion") or {})}
                self._send(200, answer)

            def _metadata(self, run_id: str, body: Any) -> None:
                if not self._secret_ok():
                    return self._send(401, {"error": "Invalid or Missing API key"})
                run = self._run_or_404(run_id)
                if run is None:
                    return
                with fake._cond:
                    try:
                        run.metadata = apply_operations(run.metadata or {}, (body or {}).get("operations") or [])
                    except ValueError as exc:
                        return self._send(400, {"error": str(exc)})
                    fake._touch(run)
                    metadata = dict(run.metadata)
                self._send(200, {"metadata": metadata})

            # realtime streams: writer side

            def _create_stream(self, run_id: str, key: str) -> None:
                if not self._secret_ok():
                    return self._send(401, {"error": "Invalid or Missing API key"})
                run = self._run_or_404(run_id)
                if run is None:
                    return
                with fake._cond:
                    run.streams.setdefault(key, StreamLog())
                    if key not in run.realtime_streams:
                        run.realtime_streams.append(key)
                        fake._touch(run)
                self._send(200, {"version": "v1"})

            def _append(self, run_id: str, key: str, body: Any) -> None:
                run = self._run_or_404(run_id)
                if run is None:
                    return
                with fake._cond:
                    run.streams.setdefault(key, StreamLog()).chunks.append((int(time.time() * 1000), body))
                    fake._cond.notify_all()
                self._send(200, {"ok": True})

            def _read_chunked_all(self) -> bytes:
                return b"".join(self._chunks())

            def _chunks(self):  # type: ignore[no-untyped-def]
                """The request body as it arrives (Transfer-Encoding: chunked, or Content-Length)."""
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    length = int(self.headers.get("Content-Length") or 0)
                    if length:
                        yield self.rfile.read(length)
                    return
                while True:
                    size_line = self.rfile.readline()
                    if not size_line:
                        return
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return
                    data = self.rfile.read(size)
                    self.rfile.readline()
                    yield data

            def _write_stream(self, run_id: str, key: str, recorded: Recorded) -> None:
                if not self._secret_ok():
                    return self._send(401, {"error": "Invalid or Missing API key"})
                run = self._run_or_404(run_id)
                if run is None:
                    return
                index = int(self.headers.get("X-Resume-From-Chunk") or 0)
                with fake._cond:
                    log = run.streams.setdefault(key, StreamLog())
                    log.writers += 1
                buffer = b""
                try:
                    for data in self._chunks():
                        buffer += data
                        *lines, buffer = buffer.split(b"\n")
                        with fake._cond:
                            for line in lines:
                                if not line.strip():
                                    continue
                                value = json.loads(line)
                                recorded.body.append(value)
                                if index >= len(log.chunks):  # a resumed writer may resend what arrived
                                    log.chunks.append((int(time.time() * 1000), value))
                                index += 1
                            fake._cond.notify_all()
                finally:
                    with fake._cond:
                        log.writers -= 1
                        fake._cond.notify_all()
                self._send(200, None)

            # realtime: subscriber side

            def _shape(self, run_id: str) -> None:
                run = self._run_or_404(run_id)
                if run is None:
                    return
                status = fake._may_read(self.headers.get("Authorization"), run)
                if status == 401:
                    return self._send(401, {"error": "Public Access Token is invalid"})
                if status == 403:
                    return self._send(403, {"error": "Unauthorized", "code": "unauthorized",
                                            "param": "access_token", "type": "authorization"})
                query = parse_qs(urlsplit(self.path).query)
                live = query.get("live", ["false"])[0] == "true"
                offset = query.get("offset", ["-1"])[0]
                seen = int(offset.split("_")[-1]) if live and "_" in offset else -1
                deadline = time.monotonic() + LONG_POLL_SECONDS
                with fake._cond:
                    while live and run.version <= seen and not fake._closing:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        fake._cond.wait(left)
                    fake._cursor += 1
                    changed = not live or run.version > seen
                    row = run.row()
                    new_offset = f"{int(run.updated_at.timestamp() * 1000)}_{run.version}" if changed else offset
                    cursor = str(fake._cursor)
                messages: list[dict[str, Any]] = []
                if changed:
                    messages.append({"key": f'"public"."TaskRun"/"{run.internal_id}"', "value": row,
                                     "headers": {"operation": "update" if live else "insert"}})
                messages.append({"headers": {"control": "up-to-date"}})
                headers = {"electric-handle": f"run-{run.friendly_id}", "electric-offset": new_offset,
                           "electric-cursor": cursor, "electric-up-to-date": "", "Cache-Control": "no-store"}
                if not live:
                    headers["electric-schema"] = json.dumps(SHAPE_SCHEMA)
                self._send(200, messages, headers)

            def _sse(self, run_id: str, key: str) -> None:
                run = self._run_or_404(run_id)
                if run is None:
                    return
                status = fake._may_read(self.headers.get("Authorization"), run)
                if status != 200:
                    return self._send(status, {"error": "Public Access Token is invalid" if status == 401
                                               else "Unauthorized"})
                last = self.headers.get("Last-Event-ID")
                index = int(last.split("-")[-1]) + 1 if last else 0
                self.send_response(200)
                for name, value in {"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                    "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "*"}.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    while True:
                        with fake._cond:
                            while True:
                                log = run.streams.get(key)
                                pending = log.chunks[index:] if log else []
                                drained = run.finished and (log is None or log.writers == 0)
                                if pending or drained or fake._closing or not fake._cond.wait(PING_SECONDS):
                                    break
                        if fake._closing or (drained and not pending):
                            return
                        if not pending:
                            self.wfile.write(b": ping\n\n")
                        for at, value in pending:
                            self.wfile.write(f"id: {at}-{index}\ndata: {json.dumps(value)}\n\n".encode())
                            index += 1
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler
