"""``Idempotency-Key`` for the two dispatch endpoints: the rules, kept apart from the claim protocol.

A key is scoped to (API key owner, endpoint, session): the stored key is a SHA-256 of the three, so
the same header value on another session or endpoint is a different key. The record is reserved in
the SAME transaction as the claim, before it: a request that cannot claim (busy, 404, no framework)
rolls its reservation back, and a request that claimed always has its record.

- same key, same body, dispatched  -> the original ``runId`` with a freshly minted token (202)
- same key, same body, dispatching -> 409 ``idempotency_in_progress`` (Retry-After: 1)
- same key, other body             -> 422 ``idempotency_key_reused``
- dispatch failed                  -> the record is dropped with the claim's release: retry freely
- record older than the TTL        -> gone; the key may be used again
- session deleted                  -> 404 (its records are erased with it, and a replay checks the session)

Replays re-sign the original token's claims (same run scope, new ``iat``/``exp``); the token itself
is never stored, only its claims, so the table holds no bearer credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.base import Dispatched
from bridge.tokens import TokenSigner
from core.errors import IdempotencyInProgress, IdempotencyKeyReused, NotFound
from core.settings import Settings
from store import idempotency, sessions

# Claims a re-mint sets afresh; everything else (sub, pub, scopes, Trigger.dev extras) is kept.
_REISSUED = ("iss", "aud", "exp", "iat")


@dataclass(frozen=True, slots=True)
class IdempotencyRequest:
    """One request's key, scoped and hashed, plus the hash of its body."""

    user_id: str
    key: str
    request_hash: str
    session_id: str

    @classmethod
    def build(cls, *, user_id: str, task: str, session_id: str, header: str, body: msgspec.Struct) -> IdempotencyRequest:
        scoped = hashlib.sha256(f"{task}\n{session_id}\n{header}".encode()).hexdigest()
        # The decoded struct re-encoded: key order, whitespace and explicit nulls do not change the hash.
        digest = hashlib.sha256(msgspec.json.encode(body)).hexdigest()
        return cls(user_id=user_id, key=scoped, request_hash=digest, session_id=session_id)


class Idempotency:
    def __init__(self, settings: Settings, *, signer: TokenSigner) -> None:
        self._ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
        # A dispatch ends within the Trigger.dev deadline; a record still pending well after that was
        # left by a process that died mid-dispatch. The claim still guards the session meanwhile.
        self._pending_window = timedelta(seconds=max(30, 2 * settings.trigger_dispatch_deadline_seconds))
        self._signer = signer

    async def reserve_or_replay(self, conn: AsyncConnection, req: IdempotencyRequest, now: datetime) -> Dispatched | None:
        """None when this request owns the key (go on and claim); else the replay, or an error."""
        if await idempotency.reserve(conn, user_id=req.user_id, key=req.key, request_hash=req.request_hash, now=now,
                                     expires_at=now + self._ttl, pending_before=now - self._pending_window):
            return None
        record = await idempotency.get(conn, user_id=req.user_id, key=req.key)
        if record is None:  # the other request rolled back between our insert and read: ours to retry
            raise IdempotencyInProgress("A request with this Idempotency-Key was just refused; retry it.")
        if record.request_hash != req.request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body; use a new key for a new request.")
        if record.response is None:
            raise IdempotencyInProgress("The first request with this Idempotency-Key is still being dispatched; "
                                        "retry in a second to get its response.")
        if not await conn.run_sync(sessions.owned_exists, session_id=req.session_id, user_id=req.user_id):
            # Deleting a session erases its records, but one completed by a dispatch that was still
            # under way may outlive it: a replay must never hand out a token for a deleted session's run.
            raise NotFound("Session not found")
        return self.replay(record.response)

    async def complete(self, conn: AsyncConnection, req: IdempotencyRequest, dispatched: Dispatched) -> None:
        response = {"runId": dispatched.run_id, "tokenClaims": token_claims(dispatched.public_access_token)}
        await idempotency.complete(conn, user_id=req.user_id, key=req.key, response=response)

    async def forget(self, conn: AsyncConnection, req: IdempotencyRequest) -> None:
        await idempotency.forget(conn, user_id=req.user_id, key=req.key)

    def replay(self, response: dict[str, Any]) -> Dispatched:
        token = self._signer.reissue(dict(response["tokenClaims"]))
        return Dispatched(run_id=response["runId"], public_access_token=token)


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a token our bridge just issued, minus the ones a re-mint sets (key order kept)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {k: v for k, v in claims.items() if k not in _REISSUED}
