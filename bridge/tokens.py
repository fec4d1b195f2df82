"""Run-scoped public access tokens, minted and verified exactly as Trigger.dev does.

HS256, protected header exactly ``{"alg":"HS256"}``, claims ``sub`` (environment id), ``pub: true``,
``scopes``, ``iss``, ``aud``, ``iat``, ``exp``. Under the Trigger.dev backend the key is the secret
API key (what the SDK signs with); locally it is the service's own secret
(:func:`local_secret`: configured, or generated once and kept in the data directory).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import TokenError

ISSUER = "https://id.trigger.dev"
AUDIENCE = "https://api.trigger.dev"
_HEADER = b'{"alg":"HS256"}'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _unb64(text: str) -> bytes:
    """Strict unpadded base64url, as JWS requires (RFC 7515 §2). Python's decoder alone would also take
    the standard alphabet's ``+`` and ``/``, padding, and silently skip any other character, so
    many spellings would verify as the same token."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def run_scopes(run_id: str) -> list[str]:
    return [f"read:runs:{run_id}"]


def mint(
    secret: str,
    *,
    sub: str,
    scopes: list[str],
    ttl_seconds: int,
    now: int | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a public token. Claim order matches the SDK's (``{...claims, scopes}`` then iss/aud/exp/iat)."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {"sub": sub, "pub": True, **(extra or {}), "scopes": scopes}
    claims.update(iss=ISSUER, aud=AUDIENCE, exp=issued + ttl_seconds, iat=issued)
    signing_input = _b64(_HEADER) + "." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def mint_claims(secret: str, claims: dict[str, Any], *, ttl_seconds: int, now: int | None = None) -> str:
    """Sign ``claims`` as given (key order kept) plus iss/aud/exp/iat, the way ``generateJWT`` does."""
    issued = int(time.time()) if now is None else now
    body = {**claims, "iss": ISSUER, "aud": AUDIENCE, "exp": issued + ttl_seconds, "iat": issued}
    # ensure_ascii=False: JSON.stringify leaves non-ASCII as UTF-8, and the signature covers the bytes.
    signing_input = _b64(_HEADER) + "." + _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


@dataclass(frozen=True, slots=True)
class PublicClaims:
    sub: str
    scopes: tuple[str, ...]
    exp: int
    raw: dict[str, Any]

    def allows(self, action: str, resources: dict[str, list[str]]) -> bool:
        """Trigger.dev's rule: any scope granting ``action`` on one of ``resources`` (type -> ids)."""
        for scope in self.scopes:
            if scope == "admin":
                return True
            parts = scope.split(":", 2)
            if len(parts) < 2 or parts[0] not in (action, "*"):
                continue
            kind, ident = parts[1], parts[2] if len(parts) == 3 else None
            if kind == "all":
                return True
            if kind in resources and (ident is None or ident in resources[kind]):
                return True
        return False


def verify(token: str, secret: str, *, leeway: int = 0, now: int | None = None) -> PublicClaims:
    """Check encoding, signature, header, ``pub``, ``iss``, ``aud``, ``exp`` and ``nbf`` (when present);
    raise :class:`TokenError` otherwise."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64(header_b64))
        signature = _unb64(signature_b64)
        claims = json.loads(_unb64(payload_b64))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # a header nested 1,500 deep: a 500 once
        raise TokenError("malformed token") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenError("unsupported token algorithm")
    expected = hmac.new(secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise TokenError("bad token signature")
    if not isinstance(claims, dict) or claims.get("pub") is not True:
        raise TokenError("not a public access token")
    if claims.get("iss") != ISSUER or claims.get("aud") != AUDIENCE:
        raise TokenError("token issuer or audience mismatch")
    exp = claims.get("exp")
    current = int(time.time()) if now is None else now
    if not isinstance(exp, int) or isinstance(exp, bool) or exp + leeway <= current:
        raise TokenError("token expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int) or isinstance(nbf, bool) or nbf - leeway > current):
        raise TokenError("token not valid yet (nbf)")
    scopes = claims.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise TokenError("bad token scopes")
    return PublicClaims(sub=str(claims.get("sub", "")), scopes=tuple(scopes), exp=exp, raw=claims)


@dataclass(frozen=True, slots=True)
class TokenSigner:
    """Mints the run-scoped tokens this deployment hands out (built once, at start-up)."""

    secret: str
    env_id: str
    ttl_seconds: int

    def for_run(self, run_id: str) -> str:
        return mint(self.secret, sub=self.env_id, scopes=run_scopes(run_id), ttl_seconds=self.ttl_seconds)

    def reissue(self, claims: dict[str, Any]) -> str:
        """A fresh token with the same claims (an idempotent replay), new ``iat``/``exp``."""
        return mint_claims(self.secret, claims, ttl_seconds=self.ttl_seconds)

    def verify(self, token: str) -> PublicClaims:
        claims = verify(token, self.secret)
        if claims.sub != self.env_id:
            raise TokenError("token for another environment")
        return claims


def local_secret(configured: str, data_dir: Path) -> str:
    """The HS256 secret for local public tokens: ``configured``, or generated once and kept in the
    data directory (so tokens survive restarts and every process on the host agrees)."""
    if configured:
        return configured
    path = data_dir / "public-token-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = "tr_local_" + secrets.token_urlsafe(32)
    # O_EXCL: two processes starting together must end up with one secret, not two.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
