"""Per-API-key rate limiting: a fixed one-minute window, in Redis or in this process.

``CAMPAIGN_CHAT_RATE_LIMIT_PER_MINUTE`` requests per key per window (0 turns limiting off). With
``TASK_BACKEND=arq`` Redis is already a dependency, so the count lives there: one Lua script
increments the window's counter and sets its expiry atomically, and windows follow Redis's clock,
so every API instance shares one count per key. Otherwise each process counts alone (N instances
admit up to N times the limit). Either way there is no database round trip.

A fixed window admits up to twice the limit across a window boundary; that is accepted here for
one counter per key and one round trip. If Redis does not answer within ``REDIS_TIMEOUT_SECONDS``,
requests are let through (and a warning logged): losing the limiter must not take the API down.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any, Protocol

from core.errors import RateLimited
from core.settings import Settings

log = logging.getLogger("campaign_chat.ratelimit")

WINDOW_SECONDS = 60
REDIS_TIMEOUT_SECONDS = 0.5

# KEYS[1]: the key's counter prefix; ARGV[1]: window length in ms. Returns {count, ms left in window}.
_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[1])
local key = KEYS[1] .. ':' .. math.floor(now_ms / window)
local count = redis.call('INCR', key)
if count == 1 then redis.call('PEXPIRE', key, window) end
return {count, window - (now_ms % window)}
"""


class Limiter(Protocol):
    async def hit(self, identity: str) -> None:
        """Count one request for ``identity``; raise :class:`RateLimited` when over the limit."""


def _refuse(limit: int, seconds_left: float) -> RateLimited:
    retry = max(1, math.ceil(seconds_left))
    return RateLimited(f"Rate limit of {limit} requests per minute for this API key exceeded; retry in {retry} s.",
                       retry_after=retry)


class Unlimited:
    async def hit(self, identity: str) -> None:
        return None


class LocalWindow:
    """Counts in this process; the table is cleared when the window turns, so it stays small."""

    def __init__(self, limit: int, *, clock: Any = time.time) -> None:
        self._limit = limit
        self._clock = clock
        self._window = -1
        self._counts: dict[str, int] = {}

    async def hit(self, identity: str) -> None:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts.get(identity, 0) + 1
        self._counts[identity] = count
        if count > self._limit:
            raise _refuse(self._limit, (window + 1) * WINDOW_SECONDS - now)


class RedisWindow:
    """One atomic script per request; the counter is shared by every instance on the same Redis."""

    def __init__(self, limit: int, *, redis: Any, prefix: str) -> None:
        self._limit = limit
        self._prefix = f"{prefix}:ratelimit"
        self._script = redis.register_script(_SCRIPT)
        self._warned_at = 0.0

    async def hit(self, identity: str) -> None:
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                count, ms_left = await self._script(keys=[f"{self._prefix}:{identity}"],
                                                    args=[WINDOW_SECONDS * 1000])
        except (RedisError, OSError, TimeoutError) as exc:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limiter unavailable (Redis: %s); requests are not limited meanwhile", exc)
            return
        if int(count) > self._limit:
            raise _refuse(self._limit, int(ms_left) / 1000)


class FailureThrottle:
    """Failed authentications per client address, in a fixed one-minute window, counted in this process.

    An address with ``limit`` failures in the window gets 429 ``auth_throttled`` for the rest of it,
    before any key lookup: guessing keys costs a database query each, and nothing else bounds them
    (the per-key limit needs a key). The table is cleared when the window turns; past
    :data:`MAX_ADDRESSES` in one window, new addresses share one bucket, so a flood from many
    addresses is throttled as one rather than growing the table. ``limit`` 0 turns it off.
    """

    MAX_ADDRESSES = 100_000
    OVERFLOW = "*"

    def __init__(self, limit: int, *, clock: Any = time.time) -> None:
        self._limit = limit
        self._clock = clock
        self._window = -1
        self._failures: dict[str, int] = {}

    def _turn(self) -> float:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._failures = window, {}
        return now

    def _bucket(self, address: str) -> str:
        return address if address in self._failures or len(self._failures) < self.MAX_ADDRESSES else self.OVERFLOW

    def check(self, address: str) -> None:
        """Raise :class:`RateLimited` (``auth_throttled``) while ``address`` is over its failures."""
        if self._limit == 0:
            return
        now = self._turn()
        if self._failures.get(self._bucket(address), 0) >= self._limit:
            retry = max(1, math.ceil((self._window + 1) * WINDOW_SECONDS - now))
            raise RateLimited(f"Too many failed authentications from this address; retry in {retry} s.",
                              retry_after=retry, code="auth_throttled")

    def failed(self, address: str) -> None:
        if self._limit == 0:
            return
        self._turn()
        bucket = self._bucket(address)
        self._failures[bucket] = self._failures.get(bucket, 0) + 1


def build_limiter(settings: Settings, redis: Any = None) -> Limiter:
    if settings.rate_limit_per_minute == 0:
        return Unlimited()
    if redis is not None:
        return RedisWindow(settings.rate_limit_per_minute, redis=redis, prefix=settings.arq_queue_name)
    return LocalWindow(settings.rate_limit_per_minute)
