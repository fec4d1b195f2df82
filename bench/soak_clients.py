"""The soak's clients: users chatting in sessions, pollers, and realtime subscribers, all over HTTP.

Each session is driven the way the published guidance tells clients to behave: submit a turn,
poll ``GET /sessions/{id}`` every 2-5 s until ``task_status`` clears, think, submit the next. Some
clients misbehave the way real ones do: a *double* client sends every turn twice at once (a
double click), an *eager* client submits the next turn without waiting and retries on 409 after
``Retry-After``. A second "tab" polls each session for its whole life. Accepted turns get realtime
subscribers: the v1 SSE chat stream, the Electric shape long-poll, or (a few) the real Node SDK.
Everything observed goes into :class:`Record`; the checks run on it afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SESSIONS = "/api/campaigns/ai-chat-sessions"
TERMINAL = {"COMPLETED_SUCCESSFULLY", "COMPLETED_WITH_ERRORS", "CANCELED", "TIMED_OUT", "CRASHED",
            "SYSTEM_FAILURE", "INTERRUPTED", "EXPIRED"}
STYLES = ("patient", "double", "eager", "patient")  # session i gets STYLES[i % 4]
RECONNECTS = 3  # a realtime subscriber resumes this many times after a dropped connection


@dataclass
class Accepted:
    session_id: str
    message: str
    run_id: str
    token: str
    sent_at: float
    answered_at: float


@dataclass
class Record:
    """Everything the clients saw. ``unexpected`` holds every response that breaks the rules."""

    responses: dict[str, int] = field(default_factory=dict)  # "POST turn 202" -> count
    unexpected: list[str] = field(default_factory=list)
    dispatch_ms: list[float] = field(default_factory=list)  # POST /turn round trips answered 202
    busy_ms: list[float] = field(default_factory=list)  # POST /turn round trips answered 409
    accepted: list[Accepted] = field(default_factory=list)
    accepted_by_session: dict[str, list[str]] = field(default_factory=dict)
    planned_turns: int = 0
    double_submits: int = 0
    double_accepted: int = 0  # both halves of a double submit accepted, one after the other
    realtime: dict[str, int] = field(default_factory=dict)  # "sse ok" -> count
    realtime_failures: list[str] = field(default_factory=list)
    observed_done_ms: list[float] = field(default_factory=list)  # POST sent -> SSE stream closed after done

    def count(self, key: str) -> None:
        self.responses[key] = self.responses.get(key, 0) + 1

    def note(self, what: str) -> None:
        if len(self.unexpected) < 200:
            self.unexpected.append(what)
        else:
            self.unexpected[-1] = f"... and more (last: {what})"

    def realtime_ok(self, kind: str) -> None:
        self.realtime[f"{kind} ok"] = self.realtime.get(f"{kind} ok", 0) + 1

    def realtime_bad(self, kind: str, why: str) -> None:
        self.realtime[f"{kind} failed"] = self.realtime.get(f"{kind} failed", 0) + 1
        self.realtime_failures.append(f"{kind}: {why}")


@dataclass
class Plan:
    turns: int
    poll: tuple[float, float] = (2.0, 5.0)
    think: tuple[float, float] = (0.0, 0.0)
    sse_every: int = 2  # every 2nd accepted turn gets an SSE subscriber
    shape_every: int = 3  # every 3rd a shape long-poll subscriber
    sdk_subscribers: int = 0  # the first N accepted turns of the patient sessions get the real SDK
    busy_timeout: float = 120.0  # a session still busy this long after a turn is an invariant failure


class Clients:
    def __init__(self, base_url: str, plan: Plan, record: Record, *, node_dir: Path | None = None) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=2000)
        self.http = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=httpx.Timeout(60, connect=10))
        self.base_url, self.plan, self.rec, self.node_dir = base_url, plan, record, node_dir
        self.subscribers: set[asyncio.Task[None]] = set()
        self._sdk_started = 0
        self._turn_no = 0

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, kind: str, key: str, expect: tuple[int, ...],
                    **kw: Any) -> httpx.Response | None:
        try:
            try:
                response = await self.http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if method != "GET":
                    raise
                # The server closed an idle keep-alive connection as this request went out on it; like a
                # browser, retry an idempotent GET once on a fresh connection.
                self.rec.count(f"GET {kind} retried after {type(exc).__name__}")
                response = await self.http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)
        except httpx.HTTPError as exc:
            self.rec.count(f"{method} {kind} {type(exc).__name__}")
            self.rec.note(f"{method} {path}: {type(exc).__name__} {exc}")
            return None
        self.rec.count(f"{method} {kind} {response.status_code}")
        if response.status_code not in expect:
            self.rec.note(f"{method} {path} -> {response.status_code} {response.text[:200]}")
        return response

    # --- a user in one session -------------------------------------------------------------------------

    async def session(self, index: int, key: str) -> None:
        style = STYLES[index % len(STYLES)]
        body = {"campaign_id": str(uuid.uuid4()), "node_id": str(uuid.uuid4()), "title": f"soak {index}"}
        created = await self._call("POST", SESSIONS + "/", "create", key, (201,), json=body)
        if created is None or created.status_code != 201:
            return
        sid = created.json()["session"]["id"]
        self.rec.accepted_by_session[sid] = []
        self.rec.planned_turns += self.plan.turns
        stop = asyncio.Event()
        tab = asyncio.ensure_future(self._tab(sid, key, stop))
        try:
            for turn in range(self.plan.turns):
                message = f"Turn {turn + 1} in soak session {index}: we sell payroll software to 50-person firms"
                if style == "double":
                    await self._double_submit(sid, key, message)
                elif style == "eager" and turn > 0:
                    await self._submit_until_accepted(sid, key, message)  # previous turn may still run
                else:
                    await self._submit(sid, key, message, expect=(202,))
                if style != "eager" or turn == self.plan.turns - 1:
                    await self._wait_idle(sid, key)
                await asyncio.sleep(random.uniform(*self.plan.think))
        finally:
            stop.set()
            await tab

    async def _submit(self, sid: str, key: str, message: str, expect: tuple[int, ...]) -> httpx.Response | None:
        started = time.perf_counter()
        response = await self._call("POST", f"{SESSIONS}/{sid}/turn", "turn", key, expect, json={"message": message})
        elapsed = (time.perf_counter() - started) * 1000
        if response is None:
            return None
        if response.status_code == 202:
            self.rec.dispatch_ms.append(elapsed)
            body = response.json()
            accepted = Accepted(sid, message, body["runId"], body["publicAccessToken"], started, time.perf_counter())
            self.rec.accepted.append(accepted)
            self.rec.accepted_by_session[sid].append(message)
            self._subscribe(accepted)
        elif response.status_code == 409:
            self.rec.busy_ms.append(elapsed)
            problem = response.json()
            if problem.get("code") != "session_busy" or "retry-after" not in response.headers:
                self.rec.note(f"409 without the documented body/Retry-After: {response.text[:200]}")
        return response

    async def _double_submit(self, sid: str, key: str, message: str) -> None:
        self.rec.double_submits += 1
        first, second = await asyncio.gather(*(self._submit(sid, key, message, expect=(202, 409)) for _ in range(2)))
        codes = sorted(r.status_code for r in (first, second) if r is not None)
        if codes == [202, 202]:
            # Legitimate only when the second claim came after the first turn had ended (a slow server
            # let the whole turn run in between); soak_checks verifies the runs never overlapped.
            self.rec.double_accepted += 1
        elif codes != [202, 409]:
            self.rec.note(f"double submit on an idle session answered {codes}, expected one 202 and one 409")
            if 202 not in codes:
                await self._submit_until_accepted(sid, key, message)

    async def _submit_until_accepted(self, sid: str, key: str, message: str) -> None:
        deadline = time.monotonic() + self.plan.busy_timeout
        while time.monotonic() < deadline:
            response = await self._submit(sid, key, message, expect=(202, 409))
            if response is None or response.status_code != 409:
                return
            wait = float(response.headers.get("retry-after", "2"))
            await asyncio.sleep(wait + random.uniform(0, 0.5))
        self.rec.note(f"session {sid} refused a turn with 409 for {self.plan.busy_timeout}s")

    async def _get(self, sid: str, key: str) -> dict[str, Any] | None:
        response = await self._call("GET", f"{SESSIONS}/{sid}", "session", key, (200,))
        return response.json()["session"] if response is not None and response.status_code == 200 else None

    async def _wait_idle(self, sid: str, key: str) -> None:
        deadline = time.monotonic() + self.plan.busy_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(random.uniform(*self.plan.poll))
            session = await self._get(sid, key)
            if session is not None and session["task_status"] is None:
                return
        self.rec.note(f"session {sid} still busy {self.plan.busy_timeout}s after its turn")

    async def _tab(self, sid: str, key: str, stop: asyncio.Event) -> None:
        """Another browser tab on the same session: polls for as long as the user is around."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), random.uniform(*self.plan.poll))
            except TimeoutError:
                await self._get(sid, key)

    # --- realtime subscribers -----------------------------------------------------------------------------

    def _subscribe(self, accepted: Accepted) -> None:
        self._turn_no += 1
        jobs = []
        if self.plan.sse_every and self._turn_no % self.plan.sse_every == 0:
            jobs.append(self._sse(accepted))
        if self.plan.shape_every and self._turn_no % self.plan.shape_every == 0:
            jobs.append(self._shape(accepted))
        if self.node_dir and self._sdk_started < self.plan.sdk_subscribers and self._turn_no % 5 == 1:
            self._sdk_started += 1
            jobs.append(self._sdk(accepted))
        for job in jobs:
            task = asyncio.ensure_future(job)
            self.subscribers.add(task)
            task.add_done_callback(self.subscribers.discard)

    async def _sse(self, acc: Accepted) -> None:
        url = f"/realtime/v1/streams/{acc.run_id}/chat"
        events: list[dict[str, Any]] = []
        last_id = ""
        for attempt in range(RECONNECTS + 1):
            headers = {"Authorization": f"Bearer {acc.token}", **({"Last-Event-ID": last_id} if last_id else {})}
            try:
                async with self.http.stream("GET", url, headers=headers,
                                            timeout=httpx.Timeout(self.plan.busy_timeout, connect=10)) as response:
                    self.rec.count(f"GET sse {response.status_code}")
                    if response.status_code != 200:
                        self.rec.realtime_bad("sse", f"{acc.run_id} answered {response.status_code}")
                        return
                    async for line in response.aiter_lines():
                        if line.startswith("id: "):
                            last_id = line[4:]
                        elif line.startswith("data: "):
                            events.append(json.loads(line[6:]))
                break
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # A dropped connection: resume after the last event received, as the SDK does.
                self.rec.count(f"GET sse reconnected after {type(exc).__name__}")
                if attempt == RECONNECTS:
                    self.rec.realtime_bad("sse", f"{acc.run_id}: {type(exc).__name__} {RECONNECTS + 1} times")
                    return
            except httpx.HTTPError as exc:
                self.rec.count(f"GET sse {type(exc).__name__}")
                self.rec.realtime_bad("sse", f"{acc.run_id}: {type(exc).__name__} {exc}")
                return
        if not events or events[-1].get("type") != "done":
            self.rec.realtime_bad("sse", f"{acc.run_id} closed without a final done event ({len(events)} events)")
            return
        self.rec.observed_done_ms.append((time.perf_counter() - acc.sent_at) * 1000)
        self.rec.realtime_ok("sse")

    async def _shape(self, acc: Accepted) -> None:
        path = f"/realtime/v1/runs/{acc.run_id}"
        params: dict[str, str] = {"offset": "-1", "log": "full"}
        deadline = time.monotonic() + self.plan.busy_timeout
        dropped = 0
        while time.monotonic() < deadline:
            try:
                response = await self.http.get(path, params=params, headers={"Authorization": f"Bearer {acc.token}"})
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # A dropped connection: poll again from the same offset, as the Electric client does.
                self.rec.count(f"GET shape retried after {type(exc).__name__}")
                dropped += 1
                if dropped <= RECONNECTS:
                    continue
                self.rec.realtime_bad("shape", f"{acc.run_id}: {type(exc).__name__} {dropped} times")
                return
            except httpx.HTTPError as exc:
                self.rec.count(f"GET shape {type(exc).__name__}")
                self.rec.realtime_bad("shape", f"{acc.run_id}: {type(exc).__name__} {exc}")
                return
            self.rec.count(f"GET shape {response.status_code}")
            if response.status_code != 200:
                self.rec.realtime_bad("shape", f"{acc.run_id} answered {response.status_code} {response.text[:200]}")
                return
            rows = [m["value"] for m in response.json() if "value" in m]
            if rows and rows[-1]["status"] in TERMINAL:
                self.rec.realtime_ok("shape")
                return
            params = {"offset": response.headers["electric-offset"], "handle": response.headers["electric-handle"],
                      "live": "true", "log": "full", "cursor": response.headers.get("electric-cursor", "")}
        self.rec.realtime_bad("shape", f"{acc.run_id} never reached a terminal status")

    async def _sdk(self, acc: Accepted) -> None:
        assert self.node_dir is not None
        env = {**os.environ, "BASE_URL": self.base_url, "RUN_ID": acc.run_id, "PUBLIC_TOKEN": acc.token,
               "MODE": "subscribe", "TIMEOUT_MS": str(int(self.plan.busy_timeout * 1000))}
        proc = await asyncio.create_subprocess_exec("node", "realtime-check.mjs", cwd=self.node_dir, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
        final = next((x for x in reversed(lines) if x.get("kind") == "retrieve"), None)
        if proc.returncode != 0 or final is None or not final.get("isSuccess"):
            self.rec.realtime_bad("sdk", f"{acc.run_id} exit {proc.returncode}: {out.decode()[-300:]} {err.decode()[-300:]}")
            return
        self.rec.realtime_ok("sdk")

    async def drain_subscribers(self, timeout: float) -> None:
        if not self.subscribers:
            return
        done, pending = await asyncio.wait(set(self.subscribers), timeout=timeout)
        for task in pending:
            task.cancel()
            self.rec.realtime_bad("subscriber", "still open when the soak ended")
        await asyncio.gather(*pending, return_exceptions=True)
