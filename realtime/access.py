"""Who may read or cancel a run: a public access token, or the owning user's API key.

Public tokens are checked exactly as Trigger.dev does (signature with our secret, ``pub``, ``iss``,
``aud``, ``exp``, the ``sub`` environment id, then scopes with any-resource matching over the run's
id, task and tags). An API key (``cc_live_…``) is never read as a token: it is resolved to its user
and grants only that user's own runs (a backend can cancel or inspect the turns it started).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.auth import KeyAuthenticator
from bridge.tokens import PublicClaims, TokenError, verify
from core.errors import RateLimited, Unauthorized
from realtime.shape import public_id
from store.keys import KEY_PREFIX


class RealtimeError(Exception):
    """A Trigger.dev-shaped error response (the SDK reads ``error``; retries only where Trigger.dev does)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("error", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def invalid() -> RealtimeError:
    return RealtimeError(401, {"error": "Public Access Token is invalid"})


def forbidden() -> RealtimeError:
    return RealtimeError(403, {"error": "Unauthorized", "code": "unauthorized", "param": "access_token",
                               "type": "authorization"})


def not_found() -> RealtimeError:
    return RealtimeError(404, {"error": "Run not found"})


@dataclass(frozen=True, slots=True)
class Caller:
    claims: PublicClaims | None = None
    user_id: str | None = None

    def may(self, action: str, run: Mapping[str, Any]) -> bool:
        if self.user_id is not None:
            return self.user_id == run["user_id"]
        assert self.claims is not None
        resources = {"runs": [public_id(run)], "tasks": [run["task"]], "tags": list(run["tags"] or [])}
        return self.claims.allows(action, resources)


class AccessChecker:
    def __init__(self, *, secret: str, env_id: str, keys: KeyAuthenticator) -> None:
        self._secret = secret
        self._env_id = env_id
        self._keys = keys

    async def caller(self, authorization: str | None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise RealtimeError(401, {"error": "Invalid or Missing API key"})
        if token.startswith(KEY_PREFIX):
            try:
                return Caller(user_id=await self._keys.admit(authorization))
            except Unauthorized:
                raise RealtimeError(401, {"error": "Invalid or Missing API key"}) from None
            except RateLimited as exc:
                raise RealtimeError(429, {"error": exc.message}, exc.headers) from None
        try:
            claims = verify(token, self._secret)
        except TokenError:
            raise invalid() from None
        if claims.sub != self._env_id:
            raise invalid()
        return Caller(claims=claims)

    @staticmethod
    def check(caller: Caller, action: str, run: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """The run when ``caller`` may ``action`` it. A key holder gets 404 for others' runs (no probing)."""
        if run is None:
            raise not_found()
        if not caller.may(action, run):
            raise not_found() if caller.user_id is not None else forbidden()
        return run
