"""Auth as the spec applies it: Bearer JWTs checked by Vonage's rules, Basic only on request.

Tokens are minted with Vonage's own ``vonage-jwt`` where it can express the case, and with
PyJWT where it cannot (it always adds ``exp`` and ``jti``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from vonage_jwt import JwtClient

from wamanager import JWTAuth, ValidationError
from wamanager.sandbox import (
    Account,
    Application,
    SandboxConfig,
    SandboxHandle,
    generate_application,
    run_sandbox,
)
from wamanager.sandbox import _auth as sandbox_auth
from wamanager.sandbox._auth import Authenticator
from wamanager.sandbox._problems import SandboxProblem
from wamanager.testing import sandbox_client

from .helpers import call

HOUR = 3600


def vonage_token(sandbox: SandboxHandle, **claims: Any) -> str:
    """A token minted by Vonage's own library for the sandbox's application."""
    client = JwtClient(sandbox.application_id, sandbox.private_key_pem)
    return client.generate_application_jwt(claims).decode()


def pyjwt_token(sandbox: SandboxHandle, claims: dict[str, Any], algorithm: str = "RS256") -> str:
    """A token with exactly ``claims`` (what vonage-jwt cannot leave out)."""
    secret = "a-shared-secret-of-32-bytes-long"
    key: Any = sandbox.private_key_pem if algorithm.startswith("RS") else secret
    return jwt.encode(claims, key, algorithm=algorithm)


async def status_and_detail(sandbox: SandboxHandle, token: str) -> tuple[int, str]:
    """GET /deployments with ``Bearer token``."""
    status, body, _ = await call(sandbox, "GET", "/deployments", authorization=f"Bearer {token}")
    return status, "" if status == 200 else body["detail"]


async def test_a_vonage_jwt_token_is_accepted(sandbox: SandboxHandle) -> None:
    """A token from vonage-jwt (application_id, iat, jti, exp = iat + 15 min) is accepted."""
    assert await status_and_detail(sandbox, vonage_token(sandbox)) == (200, "")


async def test_a_token_without_exp_lasts_15_minutes(sandbox: SandboxHandle) -> None:
    """Without exp a token is valid for 15 minutes after iat, and refused after."""
    now = int(time.time())
    base = {"application_id": sandbox.application_id, "jti": str(uuid.uuid4())}
    fresh = pyjwt_token(sandbox, {**base, "iat": now - 14 * 60})
    stale = pyjwt_token(sandbox, {**base, "iat": now - 16 * 60})
    assert await status_and_detail(sandbox, fresh) == (200, "")
    status, detail = await status_and_detail(sandbox, stale)
    assert status == 401
    assert "15 minutes" in detail


async def test_a_token_issued_over_24_hours_ago_is_refused_whatever_its_exp(
    sandbox: SandboxHandle,
) -> None:
    """iat older than 24 h: 401, even with an exp still in the future."""
    now = int(time.time())
    token = vonage_token(sandbox, iat=now - 25 * HOUR, exp=now + HOUR)
    status, detail = await status_and_detail(sandbox, token)
    assert status == 401
    assert "24 hours" in detail
    recent = vonage_token(sandbox, iat=now - 23 * HOUR, exp=now + HOUR)
    assert await status_and_detail(sandbox, recent) == (200, "")


async def test_a_token_without_jti_is_refused(sandbox: SandboxHandle) -> None:
    """jti is required."""
    now = int(time.time())
    token = pyjwt_token(
        sandbox, {"application_id": sandbox.application_id, "iat": now, "exp": now + 60}
    )
    status, detail = await status_and_detail(sandbox, token)
    assert status == 401
    assert "'jti'" in detail


async def test_a_token_without_iat_is_refused(sandbox: SandboxHandle) -> None:
    """iat is required (vonage-jwt always sets it; a hand-made token may not)."""
    token = pyjwt_token(
        sandbox,
        {"application_id": sandbox.application_id, "jti": "j", "exp": int(time.time()) + 60},
    )
    status, detail = await status_and_detail(sandbox, token)
    assert (status, "'iat'" in detail) == (401, True)


async def test_nbf_in_the_future_is_refused_and_in_the_past_accepted(
    sandbox: SandboxHandle,
) -> None:
    """A token is not valid before its nbf."""
    now = int(time.time())
    status, detail = await status_and_detail(sandbox, vonage_token(sandbox, nbf=now + 600))
    assert status == 401
    assert "nbf" in detail
    assert await status_and_detail(sandbox, vonage_token(sandbox, nbf=now - 5)) == (200, "")


@pytest.mark.parametrize("algorithm", ["HS256", "RS512", "none"])
async def test_only_rs256_is_accepted(sandbox: SandboxHandle, algorithm: str) -> None:
    """HS256 (a shared secret), RS512 (the right key, the wrong algorithm) and none: 401."""
    now = int(time.time())
    claims = {"application_id": sandbox.application_id, "iat": now, "jti": "j", "exp": now + 60}
    if algorithm == "none":
        token = jwt.encode(claims, None, algorithm="none")
    else:
        token = pyjwt_token(sandbox, claims, algorithm)
    status, detail = await status_and_detail(sandbox, token)
    assert status == 401
    assert "RS256" in detail


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda s, now: "not-a-jwt", "not a JWT"),
        (
            lambda s, now: jwt.encode(
                {"application_id": "other", "iat": now, "jti": "j"},
                s.private_key_pem,
                algorithm="RS256",
            ),
            "no application",
        ),
        (
            lambda s, now: jwt.encode(
                {"application_id": s.application_id, "iat": now, "jti": "j"},
                generate_application()[1],
                algorithm="RS256",
            ),
            "signature",
        ),
        (lambda s, now: vonage_token(s, iat=now - 120, exp=now - 60), "expired"),
        (lambda s, now: vonage_token(s, iat=now + 600), "future"),
        (
            lambda s, now: pyjwt_token(
                s, {"application_id": s.application_id, "iat": "yesterday", "jti": "j"}
            ),
            "iat",
        ),
        (lambda s, now: vonage_token(s, jti=5), "JWT ID"),
    ],
    ids=["garbage", "unknown-app", "other-key", "expired", "iat-future", "iat-text", "jti-int"],
)
async def test_other_bad_tokens_are_refused_saying_why(
    sandbox: SandboxHandle, make: Any, words: str
) -> None:
    """Garbage, an unknown application, another key, an expired token, odd claims: 401."""
    status, detail = await status_and_detail(sandbox, make(sandbox, int(time.time())))
    assert status == 401
    assert words in detail


async def test_basic_is_refused_by_default_saying_how_to_allow_it(sandbox: SandboxHandle) -> None:
    """The spec applies bearerAuth only: Basic answers 401 naming JWTs and basic_auth=True."""
    status, body, headers = await call(
        sandbox, "GET", "/deployments", authorization=sandbox.basic_authorization
    )
    assert status == 401
    assert "Bearer JWT" in body["detail"]
    assert "SandboxConfig(basic_auth=True)" in body["detail"]
    assert "--basic-auth" in body["detail"]
    assert headers["WWW-Authenticate"].startswith("Bearer")


async def test_basic_works_when_allowed() -> None:
    """With basic_auth=True the account's key and secret authenticate; a wrong secret does not."""
    config = SandboxConfig(basic_auth=True, accounts=(Account("k", "s"),))
    async with run_sandbox(config) as sandbox:
        assert (
            await call(sandbox, "GET", "/deployments", authorization=sandbox.basic_authorization)
        )[0] == 200
        wrong = "Basic " + __import__("base64").b64encode(b"k:nope").decode()
        status, _, headers = await call(sandbox, "GET", "/deployments", authorization=wrong)
        assert status == 401
        assert "Basic" in headers["WWW-Authenticate"]


async def test_no_credentials_are_refused(sandbox: SandboxHandle) -> None:
    """No Authorization header, or an unknown scheme: 401."""
    assert (await call(sandbox, "GET", "/deployments", authorization=None))[0] == 401
    assert (await call(sandbox, "GET", "/deployments", authorization="Token x"))[0] == 401


# --- the verified-token cache, on an injected clock -------------------------------------


class Wall:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def authenticator_and_key(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Authenticator, str, Wall, list[str]]:
    """An Authenticator on a fake wall clock, its app's key, the clock, and a verify spy."""
    app, key = generate_application("app-1")
    wall = Wall()
    auth = Authenticator(SandboxConfig(applications=(app,)), now=wall)
    verified: list[str] = []
    real = auth._verify

    def spy(token: str, now: float) -> Any:
        verified.append(token)
        return real(token, now)

    monkeypatch.setattr(auth, "_verify", spy)
    return auth, key, wall, verified


def _token(key: str, **claims: Any) -> str:
    return jwt.encode({"application_id": "app-1", "jti": "j", **claims}, key, algorithm="RS256")


def test_a_token_is_verified_once_then_served_from_the_cache(
    authenticator_and_key: tuple[Authenticator, str, Wall, list[str]],
) -> None:
    """A thousand requests with one token cost one signature check."""
    auth, key, wall, verified = authenticator_and_key
    token = _token(key, iat=int(wall.now), exp=int(wall.now) + 900)
    for _ in range(1000):
        assert auth.authenticate(f"Bearer {token}").api_key == "sandbox-key"
    assert verified == [token]


@pytest.mark.parametrize(
    ("claims", "valid_for"),
    [
        ({"exp": 900}, 900),  # its exp
        ({}, 15 * 60),  # no exp: 15 minutes
        ({"exp": 48 * HOUR}, 24 * HOUR),  # never past iat + 24 h
    ],
    ids=["exp", "no-exp", "exp-past-24h"],
)
def test_a_cached_token_stops_working_when_it_expires(
    authenticator_and_key: tuple[Authenticator, str, Wall, list[str]],
    claims: dict[str, int],
    valid_for: int,
) -> None:
    """The cache keeps a token only while Vonage's rules say it is valid."""
    auth, key, wall, _ = authenticator_and_key
    iat = int(wall.now)
    token = _token(key, iat=iat, **{k: iat + v for k, v in claims.items()})
    auth.authenticate(f"Bearer {token}")
    wall.now = iat + valid_for  # inside the 5-second leeway: still good, from the cache
    auth.authenticate(f"Bearer {token}")
    wall.now = iat + valid_for + 6
    with pytest.raises(SandboxProblem) as caught:
        auth.authenticate(f"Bearer {token}")
    assert caught.value.status == 401


def test_the_cache_is_bounded(
    authenticator_and_key: tuple[Authenticator, str, Wall, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond its size the cache forgets the least recently used tokens."""
    monkeypatch.setattr(sandbox_auth, "_CACHE_SIZE", 3)
    auth, key, wall, verified = authenticator_and_key
    tokens = [_token(key, iat=int(wall.now), jti=str(i)) for i in range(5)]
    for token in tokens:
        auth.authenticate(f"Bearer {token}")
    assert len(auth._cache) == 3
    auth.authenticate(f"Bearer {tokens[0]}")  # forgotten: verified again
    assert verified.count(tokens[0]) == 2


# --- the client's side ------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [86_401, 172_800])
def test_jwtauth_refuses_a_ttl_over_24_hours(ttl: int) -> None:
    """JWTAuth(ttl=...) above 24 h is a ValidationError: Vonage would refuse the token."""
    _, key = generate_application()
    with pytest.raises(ValidationError) as caught:
        JWTAuth("app", key, ttl=ttl)
    assert caught.value.fields == ("ttl",)


async def test_jwtauth_at_24_hours_is_accepted_by_the_sandbox(sandbox: SandboxHandle) -> None:
    """The longest ttl JWTAuth allows makes tokens the sandbox accepts."""
    auth = JWTAuth(sandbox.application_id, sandbox.private_key_pem or "", ttl=86_400)
    async with sandbox_client(sandbox, auth=auth) as wam:
        assert await wam.deployments.list() == []


def test_an_application_key_must_be_rsa() -> None:
    """An application configured with a non-RSA public key is refused when the app is built."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValueError, match="RSA"):
        Authenticator(SandboxConfig(applications=(Application("ec-app", public),)))
