"""Bearer API-key authentication with a short in-process cache.

The cache keeps the hot path (clients polling every few seconds) off the database; its TTL is
how long a revoked key may still work on an instance that saw it recently (documented).
"""

from __future__ import annotations

import time

from core.errors import Unauthorized
from store import keys
from store.db import Database

_MAX_ENTRIES = 10_000


class KeyAuthenticator:
    def __init__(self, db: Database, *, ttl_seconds: float = 5.0) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[str, float]] = {}

    async def user_for(self, authorization: str | None) -> str:
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized("Missing bearer token: send Authorization: Bearer <api key>",
                               headers={"WWW-Authenticate": "Bearer"})
        digest = keys.hash_key(key)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._db.read() as conn:
            user_id = await keys.resolve(conn, key)
        if user_id is None:
            self._cache.pop(digest, None)
            raise Unauthorized("Invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[digest] = (user_id, now + self._ttl)
        return user_id

    def forget(self) -> None:
        self._cache.clear()
