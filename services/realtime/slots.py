"""How many realtime requests one credential may hold open at once, in this process.

A long-poll waits up to 20 s and an SSE stream lasts as long as its run; each one waiting costs a
connection, a wake-up registration and a database read per wake-up. One public token (or API key)
may hold ``CAMPAIGN_CHAT_REALTIME_CONNECTIONS_PER_TOKEN`` of them; one more is
``429 {"error": "Too many concurrent requests", "code": "realtime_connection_limit"}`` with
``Retry-After``, the answer Trigger.dev gives for its own concurrency limits (its SDK retries a 429
with backoff). A subscriber needs two: the run's shape and its ``chat`` stream.
"""

from __future__ import annotations

from core.errors import RealtimeError

RETRY_AFTER_SECONDS = 1


class Slot:
    """One held place; released once, by its holder or, failing that, when it is dropped."""

    __slots__ = ("_slots", "_key")

    def __init__(self, slots: CallerSlots, key: str) -> None:
        self._slots: CallerSlots | None = slots
        self._key = key

    def release(self) -> None:
        if self._slots is not None:
            self._slots._release(self._key)
            self._slots = None

    def __del__(self) -> None:
        # A stream body that never started (the client left before the response began) is dropped
        # without running its cleanup; its place must not leak with it.
        self.release()


class CallerSlots:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, credential: str) -> Slot:
        held = self._open.get(credential, 0)
        if held >= self._limit:
            raise RealtimeError(429, {"error": "Too many concurrent requests", "code": "realtime_connection_limit"},
                                {"Retry-After": str(RETRY_AFTER_SECONDS)})
        self._open[credential] = held + 1
        return Slot(self, credential)

    def held(self, credential: str) -> int:
        return self._open.get(credential, 0)

    def _release(self, credential: str) -> None:
        left = self._open.get(credential, 0) - 1
        if left > 0:
            self._open[credential] = left
        else:
            self._open.pop(credential, None)
