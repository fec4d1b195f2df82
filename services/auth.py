"""API-key authentication: Bearer parsing (the one place), a short in-process cache, the rate limit.

The cache keeps the hot path (clients polling every few seconds) off the database; its TTL
(``CAMPAIGN_CHAT_AUTH_CACHE_SECONDS``, default 5 s) is how long a revoked key may still work on an
instance that saw it recently, counted from when the key was looked up (a hit does not extend it).
Keys are looked up by their SHA-256 digest through a unique index (see store/keys.py), so the
secret itself is never compared character by character anywhere, and the digest (never the key)
is what the cache and the rate limiter are keyed by.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.errors import Unauthorized
from services.ratelimit import Limiter, Unlimited
from store import keys
from store.db import Database

_MAX_ENTRIES = 10_000
KEY_PREFIX = keys.KEY_PREFIX


def bearer(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, else None."""
    scheme, _, credential = (authorization or "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


class KeyAuthenticator:
    def __init__(self, db: Database, *, ttl_seconds: float = 5.0, limiter: Limiter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._limiter = limiter or Unlimited()
        self.clock = clock  # tests put their own clock here
        self._cache: dict[str, tuple[str, float]] = {}

    async def user_for(self, authorization: str | None) -> str:
        return (await self._resolve(authorization))[0]

    async def admit(self, authorization: str | None) -> str:
        """The key's user, once the request is within the key's rate limit (else 429 ``rate_limited``)."""
        user_id, digest = await self._resolve(authorization)
        await self._limiter.hit(digest[:32])
        return user_id

    async def _resolve(self, authorization: str | None) -> tuple[str, str]:
        key = bearer(authorization)
        if key is None:
            raise Unauthorized("Missing bearer token: send Authorization: Bearer <api key>")
        digest = keys.hash_key(key)
        cached = self._cache.get(digest)
        now = self.clock()
        if cached is not None and cached[1] > now:
            return cached[0], digest
        async with self._db.read() as conn:
            user_id = await keys.resolve(conn, key)
        if user_id is None:
            self._cache.pop(digest, None)
            raise Unauthorized("Invalid or revoked API key")
        if self._ttl > 0:
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[digest] = (user_id, now + self._ttl)
        return user_id, digest

    def forget(self) -> None:
        self._cache.clear()
