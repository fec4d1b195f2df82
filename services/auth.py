"""API-key authentication: Bearer parsing (the one place), a short in-process cache, the rate limit.

Failed lookups are counted per client address (``CAMPAIGN_CHAT_AUTH_FAILURES_PER_MINUTE``): past the
limit, that address is answered 429 ``auth_throttled`` without a lookup until the minute turns.

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
from services.ratelimit import FailureThrottle, Limiter, Unlimited
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
                 failures: FailureThrottle | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._limiter = limiter or Unlimited()
        self._failures = failures or FailureThrottle(0)
        self.clock = clock  # tests put their own clock here
        self._cache: dict[str, tuple[str, float]] = {}
        # Digests that resolved to a live key here: looked up even from a throttled address, so a
        # client sharing an address (NAT, proxy) with a key-guesser keeps working. Grants nothing else:
        # the lookup still runs, so a revoked key is refused as ever.
        self._known: set[str] = set()

    async def user_for(self, authorization: str | None, client: str | None = None) -> str:
        return (await self._resolve(authorization, client))[0]

    async def admit(self, authorization: str | None, client: str | None = None) -> str:
        """The key's user, once the request is within the key's rate limit (else 429 ``rate_limited``).
        ``client`` is the caller's address: failed lookups from it are throttled (429 ``auth_throttled``)."""
        user_id, digest = await self._resolve(authorization, client)
        await self._limiter.hit(digest[:32])
        return user_id

    async def _resolve(self, authorization: str | None, client: str | None) -> tuple[str, str]:
        key = bearer(authorization)
        if key is None:
            raise Unauthorized("Missing bearer token: send Authorization: Bearer <api key>")
        digest = keys.hash_key(key)
        cached = self._cache.get(digest)
        now = self.clock()
        if cached is not None and cached[1] > now:
            return cached[0], digest
        if client is not None and digest not in self._known:
            self._failures.check(client)
        async with self._db.read() as conn:
            user_id = await keys.resolve(conn, key)
        if user_id is None:
            self._cache.pop(digest, None)
            if client is not None:
                self._failures.failed(client)
            raise Unauthorized("Invalid or revoked API key")
        if len(self._known) >= _MAX_ENTRIES:
            self._known.clear()
        self._known.add(digest)
        if self._ttl > 0:
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[digest] = (user_id, now + self._ttl)
        return user_id, digest

    def forget(self) -> None:
        self._cache.clear()
