"""Who may read or cancel a run: a public access token, or the owning user's API key.

Public tokens are checked exactly as Trigger.dev does (signature with our secret, ``pub``, ``iss``,
``aud``, ``exp``, the ``sub`` environment id, then scopes with any-resource matching over the run's
id, task and tags). An API key (``cc_live_…``) is never read as a token: it is resolved to its user
and grants only that user's own runs (a backend can cancel or inspect the turns it started).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.tokens import PublicClaims, TokenSigner
from core.errors import RateLimited, RealtimeError, TokenError, Unauthorized
from services.auth import KEY_PREFIX, KeyAuthenticator, bearer
from store.rows import RunRow


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
    credential: str = ""  # the token or key presented: what concurrent realtime requests are counted by

    def may(self, action: str, run: RunRow) -> bool:
        if self.user_id is not None:
            return self.user_id == run.user_id
        assert self.claims is not None
        resources = {"runs": [run.public_id], "tasks": [run.task], "tags": list(run.tags or [])}
        return self.claims.allows(action, resources)


class AccessChecker:
    def __init__(self, *, verifier: TokenSigner, keys: KeyAuthenticator) -> None:
        self._verifier = verifier
        self._keys = keys

    async def caller(self, authorization: str | None, client: str | None = None) -> Caller:
        token = bearer(authorization)
        if token is None:
            raise RealtimeError(401, {"error": "Invalid or Missing API key"})
        if token.startswith(KEY_PREFIX):
            try:
                return Caller(user_id=await self._keys.admit(authorization, client), credential=token)
            except Unauthorized:
                raise RealtimeError(401, {"error": "Invalid or Missing API key"}) from None
            except RateLimited as exc:
                raise RealtimeError(429, {"error": exc.message, "code": exc.code}, exc.headers) from None
        try:
            return Caller(claims=self._verifier.verify(token), credential=token)
        except TokenError:
            raise invalid() from None

    @staticmethod
    def check(caller: Caller, action: str, run: RunRow | None) -> RunRow:
        """The run when ``caller`` may ``action`` it. A key holder gets 404 for others' runs (no probing)."""
        if run is None:
            raise not_found()
        if not caller.may(action, run):
            raise not_found() if caller.user_id is not None else forbidden()
        return run
