"""Trigger.dev backend, dispatch side (``TASK_BACKEND=trigger``): trigger the real task over the REST API.

``POST {TRIGGER_API_URL}/api/v1/tasks/{task}/trigger`` with the secret key, exactly what
``@trigger.dev/sdk`` 4.8.3 sends (headers, idempotency-key hashing, retry policy), except that the
payload travels as plain JSON (``payloadType: application/json``) for the Python task to read.
The response's ``id`` is the Trigger.dev run id clients follow; the public access token is the
``x-trigger-jwt`` header, or self-signed from ``x-trigger-jwt-claims`` the way the SDK does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from bridge.base import Dispatched
from bridge.tokens import mint_claims
from core.errors import DispatchError
from core.payloads import TaskPayload, task_name

log = logging.getLogger("campaign_chat.bridge.trigger")

SDK_VERSION = "4.8.3"
API_VERSION = "2025-07-16"
RETRY_STATUSES = frozenset({408, 409, 429})


def idempotency_key(key: str) -> str:
    """The SDK's hashing of a user idempotency key outside a task: ``sha256_hex(key)``."""
    return hashlib.sha256(key.encode()).hexdigest()


def tags_for(payload: TaskPayload) -> list[str]:
    return [f"session:{payload.session_id}", f"user:{payload.user_id}"]


def trigger_body(payload: TaskPayload, *, ttl_seconds: int | None = None) -> dict[str, Any]:
    """The ``TriggerTaskRequestBody``: plain-JSON payload, our run id as the (hashed) idempotency key."""
    options: dict[str, Any] = {
        "payloadType": "application/json",
        "idempotencyKey": idempotency_key(payload.run_id),
        "idempotencyKeyOptions": {"key": payload.run_id, "scope": "global"},
        "tags": tags_for(payload),
    }
    if ttl_seconds is not None:
        options["ttl"] = ttl_seconds  # a run that has not started when the claim's lease ends is useless
    return {"payload": msgspec.to_builtins(payload), "options": options}


class TriggerBridge:
    name = "trigger"

    def __init__(
        self,
        *,
        api_url: str,
        secret_key: str,
        token_ttl: int = 3_600,
        deadline_seconds: float = 20.0,
        run_ttl_seconds: int | None = None,
        max_attempts: int = 5,
        min_delay: float = 1.0,
        max_delay: float = 30.0,
        factor: float = 1.6,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._base = api_url.rstrip("/")
        self._secret = secret_key
        self._token_ttl = token_ttl
        self._deadline = deadline_seconds
        self._run_ttl = run_ttl_seconds
        self._max_attempts = max_attempts
        self._min_delay, self._max_delay, self._factor = min_delay, max_delay, factor
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=False)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=False)
        return self._client

    def headers(self, request_key: str) -> dict[str, str]:
        """What ``ApiClient.#getHeaders`` sends (SDK 4.8.3, outside a browser, no preview branch)."""
        return {
            "Authorization": f"Bearer {self._secret}",
            "Content-Type": "application/json",
            "trigger-version": SDK_VERSION,
            "x-trigger-api-version": API_VERSION,
            "x-trigger-source": "sdk",
            "x-trigger-realtime-streams-version": "v2",
            "x-trigger-request-idempotency-key": request_key,
        }

    async def dispatch(self, payload: TaskPayload) -> Dispatched:
        task = task_name(payload)
        url = f"{self._base}/api/v1/tasks/{quote(task, safe='')}/trigger"
        body = json.dumps(trigger_body(payload, ttl_seconds=self._run_ttl), separators=(",", ":")).encode()
        response = await self._post_with_retries(url, body, self.headers(str(uuid.uuid4())))
        try:
            data = response.json()
            run_id = data["id"]
            if not isinstance(run_id, str) or not run_id:
                raise ValueError("id is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            raise DispatchError(f"Trigger.dev answered {response.status_code} without a run id: {exc}") from exc
        token = response.headers.get("x-trigger-jwt") or self._self_signed(response, run_id)
        return Dispatched(run_id=run_id, public_access_token=token, external_id=run_id)

    def _self_signed(self, response: httpx.Response, run_id: str) -> str:
        """The SDK's fallback: ``generateJWT({...claims, scopes: [read:runs:<id>]}, expirationTime)``."""
        raw = response.headers.get("x-trigger-jwt-claims")
        try:
            claims = json.loads(raw) if raw else {}
        except (ValueError, RecursionError) as exc:
            raise DispatchError(f"Trigger.dev sent unreadable x-trigger-jwt-claims: {exc}") from exc
        if not isinstance(claims, dict):
            raise DispatchError("Trigger.dev sent x-trigger-jwt-claims that is not an object")
        claims["scopes"] = [f"read:runs:{run_id}"]
        return mint_claims(self._secret, claims, ttl_seconds=self._token_ttl, now=int(self._clock()))

    async def _post_with_retries(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST under one overall deadline, retrying what the SDK retries (same request idempotency key)."""
        deadline = time.monotonic() + self._deadline
        reason = "no attempt made"
        for attempt in range(1, self._max_attempts + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                response = await self._http().post(url, content=body, headers=headers, timeout=left)
            except httpx.HTTPError as exc:  # network error or per-request timeout: retried by the SDK too
                reason = f"{type(exc).__name__}: {exc}"
                delay = self._backoff(attempt)
            else:
                if response.is_success:
                    return response
                reason = f"HTTP {response.status_code}: {_error_text(response)}"
                if not self._should_retry(response):
                    raise DispatchError(f"Trigger.dev refused the trigger ({reason})")
                delay = self._retry_delay(response, attempt)
            if delay is None or time.monotonic() + delay >= deadline:
                break
            log.info("trigger attempt %d failed (%s); retrying in %.2fs", attempt, reason, delay)
            await self._sleep(delay)
        raise DispatchError(f"Trigger.dev did not accept the trigger within {self._deadline:g}s ({reason})")

    @staticmethod
    def _should_retry(response: httpx.Response) -> bool:
        flag = response.headers.get("x-should-retry")
        if flag in ("true", "false"):
            return flag == "true"
        return response.status_code in RETRY_STATUSES or response.status_code >= 500

    def _backoff(self, attempt: int) -> float | None:
        """``calculateNextRetryDelay`` with randomize off; None once attempts are used up."""
        if attempt >= self._max_attempts:
            return None
        return min(self._max_delay, self._min_delay * self._factor ** (attempt - 1))

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        if attempt >= self._max_attempts:
            return None
        reset = response.headers.get("x-ratelimit-reset")
        if response.status_code == 429 and reset:
            try:
                return max(0.0, int(reset) / 1000 - self._clock())
            except ValueError:
                pass
        return self._backoff(attempt)

    async def cancel(self, run_id: str) -> bool:
        """``POST /api/v2/runs/{id}/cancel``; True when Trigger.dev accepted it."""
        try:
            response = await self._http().post(f"{self._base}/api/v2/runs/{quote(run_id, safe='')}/cancel",
                                               headers=self.headers(str(uuid.uuid4())), content=b"", timeout=10)
        except httpx.HTTPError as exc:
            log.warning("could not cancel run %s: %s", run_id, exc)
            return False
        return response.is_success

    async def forget(self, run_ids: list[str]) -> None:
        return None  # Trigger.dev keeps its runs under its own retention; it offers no way to delete one

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"][:300]
    except ValueError:
        pass
    return response.text[:300] or response.reason_phrase
