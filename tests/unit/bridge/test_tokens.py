"""Public access tokens: Trigger.dev's format, scoped to one run, refused when anything is off."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from bridge.tokens import AUDIENCE, ISSUER, PublicClaims, TokenError, mint, run_scopes, verify

SECRET = "tr_dev_test_secret_0123456789abcdef"


def _parts(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload)))


def test_a_token_carries_trigger_devs_claims_for_one_run() -> None:
    token = mint(SECRET, sub="env_1", scopes=run_scopes("run_a"), ttl_seconds=900, now=1_000)
    header, claims = _parts(token)
    assert header == {"alg": "HS256"}
    assert claims == {"sub": "env_1", "pub": True, "scopes": ["read:runs:run_a"], "iss": ISSUER, "aud": AUDIENCE,
                      "exp": 1_900, "iat": 1_000}
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                         options={"verify_exp": False})
    assert decoded["scopes"] == ["read:runs:run_a"]


def test_a_token_reads_only_its_own_run() -> None:
    claims = verify(mint(SECRET, sub="env_1", scopes=run_scopes("run_a"), ttl_seconds=60), SECRET)
    assert claims.allows("read", {"runs": ["run_a"]})
    assert not claims.allows("read", {"runs": ["run_b"]})
    assert not claims.allows("write", {"runs": ["run_a"]})


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [(["read:all"], True), (["admin"], True), (["read:runs"], True), (["read:tasks:framework-chat-turn"], True),
     (["read:tags:session:s1"], True), (["read:tags:session:s2"], False), (["write:runs:run_a"], False)],
)
def test_scope_grammar_follows_trigger_dev(scopes: list[str], allowed: bool) -> None:
    claims = PublicClaims(sub="e", scopes=tuple(scopes), exp=0, raw={})
    resources = {"runs": ["run_a"], "tasks": ["framework-chat-turn"], "tags": ["session:s1"]}
    assert claims.allows("read", resources) is allowed


def test_tampered_foreign_expired_and_unsigned_tokens_are_refused() -> None:
    good = mint(SECRET, sub="env_1", scopes=run_scopes("run_a"), ttl_seconds=60)
    header, payload, signature = good.split(".")
    forged_claims = _parts(good)[1] | {"scopes": ["read:all"]}
    forged = header + "." + base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode() + "." + signature
    none_alg = jwt.encode(forged_claims, key="", algorithm="none")
    cases = {
        "tampered": forged,
        "wrong key": mint("another-secret", sub="env_1", scopes=run_scopes("run_a"), ttl_seconds=60),
        "expired": mint(SECRET, sub="env_1", scopes=run_scopes("run_a"), ttl_seconds=60, now=int(time.time()) - 120),
        "alg none": none_alg,
        "garbage": "not.a.token",
        "header nested deep": base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=") + ".e30.AAAA",  # a 500 once
        "payload nested deep": header + "." + base64.urlsafe_b64encode(b"{\"a\":" * 1500).decode().rstrip("=") + "." + signature,
        "wrong audience": jwt.encode({**forged_claims, "aud": "https://evil"}, SECRET, algorithm="HS256"),
        "not public": jwt.encode({k: v for k, v in forged_claims.items() if k != "pub"}, SECRET, algorithm="HS256"),
    }
    for name, token in cases.items():
        with pytest.raises(TokenError):
            verify(token, SECRET)
        assert name


def _token_whose_signature_has_url_safe_characters() -> str:
    for n in range(500):
        token = mint(SECRET, sub="env_1", scopes=run_scopes(f"run_{n}"), ttl_seconds=600)
        if set(token.rsplit(".", 1)[1]) & {"-", "_"}:
            return token
    raise AssertionError("no token with - or _ in its signature")


def test_only_the_exact_unpadded_base64url_spelling_of_a_token_verifies() -> None:
    """Python's base64 decoder would also read the standard alphabet (+ /), padding, and skip characters it
    does not know: one token, many accepted spellings. JWS allows exactly one."""
    token = _token_whose_signature_has_url_safe_characters()
    assert verify(token, SECRET).scopes
    header, payload, signature = token.split(".")
    standard = signature.replace("-", "+").replace("_", "/")
    spellings = {
        "standard alphabet": f"{header}.{payload}.{standard}",
        "padded signature": f"{header}.{payload}.{signature}=",
        "padded payload": f"{header}.{payload}{'=' * (-len(payload) % 4) or '===='}.{signature}",
        "stray character": f"{header}.{payload}.{signature[:10]}!{signature[10:]}",
        "whitespace": f"{header}.{payload}.{signature[:10]} {signature[10:]}",
    }
    for name, spelling in spellings.items():
        with pytest.raises(TokenError):
            verify(spelling, SECRET)
        assert name


def test_a_token_is_refused_before_its_nbf() -> None:
    now = int(time.time())
    claims = {"sub": "env_1", "pub": True, "scopes": ["read:runs:run_a"], "iss": ISSUER, "aud": AUDIENCE,
              "iat": now, "exp": now + 600}
    early = jwt.encode({**claims, "nbf": now + 300}, SECRET, algorithm="HS256", headers={"alg": "HS256"})
    with pytest.raises(TokenError, match="nbf"):
        verify(early, SECRET)
    assert verify(jwt.encode({**claims, "nbf": now - 1}, SECRET, algorithm="HS256"), SECRET).scopes
    for bad in ("soon", True, 1.5):
        with pytest.raises(TokenError):
            verify(jwt.encode({**claims, "nbf": bad}, SECRET, algorithm="HS256"), SECRET)
