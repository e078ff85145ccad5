"""Who is calling: a Bearer JWT checked as Vonage checks it (and, when allowed, Basic).

Vonage's JWT rules, as its JWT guides and support articles state them:

* signed RS256 with the private key of an application the sandbox knows
  (``application_id`` claim);
* ``iat`` and ``jti`` are required;
* ``exp`` is optional: without it the token is valid for 15 minutes after ``iat``;
* whatever ``exp`` says, a token is refused more than 24 hours after its ``iat``;
* ``nbf``, when present, is honoured.

A verified token is cached (by its exact text) until it stops being valid, so a client that
reuses its token, as :class:`~wamanager.JWTAuth` does, pays for the RS256 signature check once,
not on every request. Times are wall-clock seconds (``time.time()``), as in the claims.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ._config import Account, Application, SandboxConfig
from ._problems import SandboxProblem, unauthorized

__all__ = ["DEFAULT_TTL", "MAX_AGE", "Authenticator", "TokenMinter", "mint_jwt"]

#: How long a token without ``exp`` is valid after its ``iat`` (seconds).
DEFAULT_TTL = 15 * 60
#: No token is valid more than this long after its ``iat`` (seconds).
MAX_AGE = 24 * 3600
#: Clock skew tolerated on ``iat``, ``nbf`` and expiry (seconds).
LEEWAY = 5
_CACHE_SIZE = 4096

_BASIC_REFUSED = (
    "This API takes a Bearer JWT (its spec applies bearerAuth only): send "
    "'Authorization: Bearer <JWT>' signed with your application's private key. The real API "
    "refuses Basic credentials here; to allow them in the sandbox, use "
    "SandboxConfig(basic_auth=True) or 'wamanager sandbox --basic-auth'."
)


class Authenticator:
    """Maps an ``Authorization`` header to an :class:`Account`, or raises a 401 problem.

    ``Bearer``: a JWT following Vonage's rules (module docstring); it acts as its
    application's account. ``Basic``: the api key and secret of a configured account, only
    when ``config.basic_auth``; otherwise a 401 saying how to use a JWT.
    """

    def __init__(self, config: SandboxConfig, *, now: Callable[[], float] = time.time) -> None:
        self._basic_allowed = config.basic_auth
        self._accounts = {account.api_key: account for account in config.accounts}
        self._applications: dict[str, Application] = {
            app.application_id: app for app in config.applications
        }
        # Parsed once: PyJWT would parse the PEM again for every token.
        self._keys = {app.application_id: _rsa_key(app) for app in config.applications}
        self._now = now
        # token -> (account, wall-clock time until which it is valid); least recent first.
        self._cache: OrderedDict[str, tuple[Account, float]] = OrderedDict()

    def authenticate(self, header: str | None) -> Account:
        """The caller's account. Raises a 401 :class:`SandboxProblem` otherwise."""
        scheme, _, credentials = (header or "").strip().partition(" ")
        credentials = credentials.strip()
        scheme = scheme.lower()
        if scheme == "bearer" and credentials:
            return self._bearer(credentials)
        if scheme == "basic" and credentials:
            if not self._basic_allowed:
                raise unauthorized(_BASIC_REFUSED)
            account = self._basic(credentials)
            if account is not None:
                return account
        raise self._refused()

    def clear(self) -> None:
        """Forget every verified token."""
        self._cache.clear()

    def _refused(self, detail: str | None = None) -> SandboxProblem:
        return unauthorized(detail, basic=self._basic_allowed)

    def _basic(self, credentials: str) -> Account | None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        key, sep, secret = decoded.partition(":")
        account = self._accounts.get(key)
        if not sep or account is None:
            return None
        if not hmac.compare_digest(secret.encode(), account.api_secret.encode()):
            return None
        return account

    def _bearer(self, token: str) -> Account:
        now = self._now()
        cached = self._cache.get(token)
        if cached is not None:
            account, valid_until = cached
            if now < valid_until:
                self._cache.move_to_end(token)
                return account
            del self._cache[token]
        account, valid_until = self._verify(token, now)
        self._cache[token] = (account, valid_until)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return account

    def _verify(self, token: str, now: float) -> tuple[Account, float]:
        """Check ``token`` fully; returns its account and until when it is valid."""
        try:
            header = jwt.get_unverified_header(token)
            unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise self._refused("The Bearer token is not a JWT.") from None
        if header.get("alg") != "RS256":
            raise self._refused("The JWT must be signed with RS256.")
        app_id = unverified.get("application_id")
        app = self._applications.get(app_id) if isinstance(app_id, str) else None
        if app is None:
            raise self._refused("The JWT's application_id names no application of this sandbox.")
        account = self._accounts.get(app.api_key)
        if account is None:
            raise self._refused("The JWT's application belongs to no account of this sandbox.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._keys[app.application_id],
                algorithms=["RS256"],
                # exp and nbf are checked below, on the injected clock, with Vonage's rules.
                options={
                    "require": ["iat", "jti", "application_id"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            detail = f"The JWT has no {exc.claim!r} claim; Vonage requires one."
            raise self._refused(detail) from None
        except jwt.InvalidSignatureError:
            detail = "The JWT's signature does not match the application's key."
            raise self._refused(detail) from None
        except jwt.PyJWTError as exc:  # a claim of the wrong type ("iat must be an integer")
            raise self._refused(f"The JWT is not valid: {exc}") from None
        return account, self._valid_until(claims, now)

    def _valid_until(self, claims: dict[str, Any], now: float) -> float:
        """Until when (wall-clock) ``claims`` stay valid; raises a 401 if they are not now."""
        iat: Any = claims.get("iat")
        exp: Any = claims.get("exp")
        nbf: Any = claims.get("nbf")
        jti: Any = claims.get("jti")
        if not _is_time(iat) or (exp is not None and not _is_time(exp)):
            raise self._refused("The JWT's iat and exp must be numbers (seconds since 1970).")
        if nbf is not None and not _is_time(nbf):
            raise self._refused("The JWT's nbf must be a number (seconds since 1970).")
        if not isinstance(jti, str) or not jti:
            raise self._refused("The JWT ID (the jti claim) must be a non-empty string.")
        if iat > now + LEEWAY:
            raise self._refused("The JWT's iat is in the future.")
        if nbf is not None and nbf > now + LEEWAY:
            raise self._refused("The JWT is not valid yet (its nbf is in the future).")
        if now - iat > MAX_AGE + LEEWAY:
            raise self._refused(
                "The JWT was issued more than 24 hours ago; Vonage refuses it whatever its exp."
            )
        expires = iat + DEFAULT_TTL if exp is None else exp
        valid_until = min(float(expires), float(iat) + MAX_AGE) + LEEWAY
        if now >= valid_until:
            raise self._refused("The JWT has expired (without exp, a JWT lasts 15 minutes).")
        return valid_until


def _rsa_key(app: Application) -> RSAPublicKey:
    key = load_pem_public_key(app.public_key.encode())
    if not isinstance(key, RSAPublicKey):
        raise ValueError(f"application {app.application_id}: the public key must be RSA (RS256)")
    return key


def _is_time(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def mint_jwt(
    application_id: str,
    private_key_pem: str,
    *,
    ttl: int = DEFAULT_TTL,
    now: Callable[[], float] = time.time,
) -> str:
    """A JWT for a sandbox application: RS256, ``application_id``, ``iat``, ``exp``, ``jti``."""
    issued = int(now())
    claims = {
        "application_id": application_id,
        "iat": issued,
        "exp": issued + ttl,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, private_key_pem, algorithm="RS256")


class TokenMinter:
    """``Authorization`` header values for a sandbox application, re-signed before expiry.

    Call it for ``Bearer <jwt>``; the token is reused until less than a minute of its
    life remains. Used by the handle and :class:`~wamanager.sandbox.SandboxInbox`, which
    must not depend on the client's :class:`~wamanager.JWTAuth`.
    """

    def __init__(
        self,
        application_id: str,
        private_key_pem: str,
        *,
        ttl: int = DEFAULT_TTL,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.application_id = application_id
        self._key = private_key_pem
        self._ttl = ttl
        self._now = now
        self._header = ""
        self._expires = 0.0

    def __call__(self) -> str:
        """``Bearer <jwt>``."""
        now = self._now()
        if now >= self._expires - 60:
            token = mint_jwt(self.application_id, self._key, ttl=self._ttl, now=self._now)
            self._header = f"Bearer {token}"
            self._expires = int(now) + self._ttl
        return self._header

    def __repr__(self) -> str:
        return f"TokenMinter(application_id={self.application_id!r})"
