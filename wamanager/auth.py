"""Credentials: each yields the ``Authorization`` header for a request.

=================  ==============================================================
``BasicAuth``      HTTP basic with a Vonage API key and secret
``JWTAuth``        Bearer JWT (RS256) signed with a Vonage application's private key
``BearerToken``    a token minted elsewhere, sent as it is
=================  ==============================================================

No ``repr()`` and no exception message here ever shows a secret, a private key or a token.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .errors import ValidationError

__all__ = ["Auth", "BasicAuth", "BearerToken", "JWTAuth"]

_REDACTED = "***"


@runtime_checkable
class Auth(Protocol):
    """Anything that can produce an ``Authorization`` header value."""

    def authorization(self) -> str:
        """The value of the ``Authorization`` header for the next request."""
        ...


def _require(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError([(field, "must be a non-empty string")], model="credentials")
    return value


class BasicAuth:
    """HTTP basic auth with an API key and secret (the Vonage dashboard's account credentials)."""

    __slots__ = ("_header", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = _require(api_key, "api_key")
        token = base64.b64encode(f"{api_key}:{_require(api_secret, 'api_secret')}".encode())
        self._header = f"Basic {token.decode('ascii')}"

    def authorization(self) -> str:
        """``Basic <base64(key:secret)>``."""
        return self._header

    def __repr__(self) -> str:
        return f"BasicAuth(api_key={self.api_key!r}, api_secret={_REDACTED!r})"


class BearerToken:
    """A bearer token obtained elsewhere (sent unchanged; it is never refreshed)."""

    __slots__ = ("_header",)

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {_require(token, 'token')}"

    def authorization(self) -> str:
        """``Bearer <token>``."""
        return self._header

    def __repr__(self) -> str:
        return f"BearerToken(token={_REDACTED!r})"


PrivateKey = str | bytes | os.PathLike[str]


def _load_private_key(private_key: PrivateKey) -> RSAPrivateKey:
    """Read an RSA private key from PEM text, PEM bytes, or a path to a PEM file."""
    if isinstance(private_key, bytes):
        pem = private_key
    elif isinstance(private_key, str) and "-----BEGIN" in private_key:
        pem = private_key.encode()
    elif isinstance(private_key, (str, os.PathLike)):
        path = Path(private_key)
        # A str that is neither PEM nor a path may be key material (a PEM without its
        # header lines, say): only a path-like object's path is ever quoted back.
        where = repr(str(path)) if isinstance(private_key, os.PathLike) else "the given path"
        try:
            pem = path.read_bytes()
        except OSError as exc:
            why = exc.strerror
        except ValueError:
            why = "not a usable path"
        else:
            why = None
        if why is not None:
            # Raised outside the except block: the OSError names the "file", which may be key
            # material, and would stay reachable as this error's __context__.
            reason = f"is not PEM text and no readable file is at {where} ({why})"
            raise ValidationError([("private_key", reason)], model="JWTAuth")
    else:
        raise ValidationError(
            [
                (
                    "private_key",
                    f"must be PEM text, bytes or a path, not {type(private_key).__name__}",
                )
            ],
            model="JWTAuth",
        )
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        # The cryptography message never contains key material, but it can be long: keep
        # only its first line. ``from None`` keeps the key's bytes out of the traceback.
        reason = f"is not a readable PEM private key ({str(exc).splitlines()[0]})"
        raise ValidationError([("private_key", reason)], model="JWTAuth") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValidationError(
            [("private_key", f"must be an RSA key for RS256, not {type(key).__name__}")],
            model="JWTAuth",
        )
    return key


class JWTAuth:
    """Bearer JWTs signed RS256 with a Vonage application's private key.

    Each token carries ``application_id``, ``iat``, ``exp`` (``iat + ttl``) and a fresh
    ``jti``. The token is cached and signed again only when less than ``refresh_margin``
    seconds of its life remain (default: a fifth of ``ttl``, at most 60 s), so a busy client
    signs a few tokens an hour, not one per request.

    ``ttl`` is 30 seconds to 24 hours: Vonage refuses a token more than 24 hours after its
    ``iat``, whatever its ``exp``.

    ``private_key`` is PEM text, PEM bytes, or a path to a PEM file. A key that cannot be read,
    or is not RSA, raises :class:`~wamanager.errors.ValidationError` here, at construction.
    """

    __slots__ = ("_clock", "_expires", "_key", "_token", "application_id", "refresh_margin", "ttl")

    def __init__(
        self,
        application_id: str,
        private_key: PrivateKey,
        ttl: int = 900,
        *,
        refresh_margin: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.application_id = _require(application_id, "application_id")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 30 <= ttl <= 86_400:
            # Vonage refuses a token more than 24 hours after its iat, whatever its exp.
            raise ValidationError(
                [("ttl", "must be an int from 30 to 86400 seconds (Vonage's 24-hour maximum)")],
                model="JWTAuth",
            )
        self._key = _load_private_key(private_key)
        self.ttl = ttl
        self.refresh_margin = min(60.0, ttl / 5) if refresh_margin is None else refresh_margin
        self._clock = clock
        self._token = ""
        self._expires = 0.0

    def token(self) -> str:
        """The current JWT, signing a new one when the cached one is near expiry."""
        now = self._clock()
        if not self._token or now >= self._expires - self.refresh_margin:
            issued = int(now)
            claims = {
                "application_id": self.application_id,
                "iat": issued,
                "exp": issued + self.ttl,
                "jti": str(uuid.uuid4()),
            }
            self._token = jwt.encode(claims, self._key, algorithm="RS256")
            self._expires = float(issued + self.ttl)
        return self._token

    def authorization(self) -> str:
        """``Bearer <jwt>``."""
        return f"Bearer {self.token()}"

    def __repr__(self) -> str:
        return (
            f"JWTAuth(application_id={self.application_id!r}, "
            f"private_key={_REDACTED!r}, ttl={self.ttl})"
        )
