"""Credentials: each yields the ``Authorization`` header for a request.

=================  ==============================================================
``BasicAuth``      HTTP basic with a Vonage API key and secret
``JWTAuth``        Bearer JWT (RS256) signed with a Vonage application's private key
``BearerToken``    a token minted elsewhere, sent as it is
=================  ==============================================================

No ``repr()`` and no exception message here ever shows a secret, a private key or a token.
Every value is checked at construction (:class:`~wamanager.ValidationError` naming
the field): a value that could not be sent in a header (a line break, a lone surrogate)
fails here, not at the first request.

PyJWT and cryptography are imported only when a :class:`JWTAuth` is made, so
``import wamanager`` stays light for Basic and bearer-token users.
"""

from __future__ import annotations

import base64
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._checks import UNSENDABLE
from ._errors import ValidationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["Auth", "BasicAuth", "BearerToken", "JWTAuth"]

_REDACTED = "***"


@runtime_checkable
class Auth(Protocol):
    """Anything that can produce an ``Authorization`` header value."""

    def authorization(self) -> str:
        """The value of the ``Authorization`` header for the next request."""
        ...


#: A bearer token is visible ASCII (RFC 6750's b64token is a subset).
_TOKEN = re.compile(r"[\x21-\x7e]+").fullmatch


def _require(value: object, field: str, *, model: str = "credentials") -> str:
    """A non-empty string that can be sent; ValidationError naming ``field`` (never the value)."""
    if not isinstance(value, str) or not value.strip():
        reason = "must be a non-empty string"
    elif UNSENDABLE(value):
        reason = "must not contain control characters (a trailing newline?) or lone surrogates"
    else:
        return value
    raise ValidationError([(field, reason)], model=model)


class BasicAuth:
    """HTTP basic auth with an API key and secret (the Vonage dashboard's account credentials)."""

    __slots__ = ("_header", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = _require(api_key, "api_key", model="BasicAuth")
        secret = _require(api_secret, "api_secret", model="BasicAuth")
        if ":" in api_key:
            raise ValidationError(
                [("api_key", "must not contain ':' (it separates key and secret)")],
                model="BasicAuth",
            )
        token = base64.b64encode(f"{api_key}:{secret}".encode())
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
        _require(token, "token", model="BearerToken")
        if not _TOKEN(token):
            raise ValidationError(
                [("token", "must be visible ASCII without spaces, as sent in a header")],
                model="BearerToken",
            )
        self._header = f"Bearer {token}"

    def authorization(self) -> str:
        """``Bearer <token>``."""
        return self._header

    def __repr__(self) -> str:
        return f"BearerToken(token={_REDACTED!r})"


PrivateKey = str | bytes | os.PathLike[str]


def _load_private_key(private_key: PrivateKey) -> RSAPrivateKey:
    """Read an RSA private key from PEM text, PEM bytes, or a path to a PEM file."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if isinstance(private_key, bytes):
        pem = private_key
    elif isinstance(private_key, str) and "-----BEGIN" in private_key:
        try:
            pem = private_key.encode()
        except UnicodeEncodeError:
            pem = b""  # a lone surrogate: not a key (load_pem_private_key says so)
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
    or is not RSA, raises :class:`~wamanager.ValidationError` here, at construction.
    """

    __slots__ = (
        "_clock",
        "_encode",
        "_expires",
        "_header",
        "_key",
        "_token",
        "application_id",
        "refresh_margin",
        "ttl",
    )

    def __init__(
        self,
        application_id: str,
        private_key: PrivateKey,
        ttl: int = 900,
        *,
        refresh_margin: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.application_id = _require(application_id, "application_id", model="JWTAuth")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 30 <= ttl <= 86_400:
            # Vonage refuses a token more than 24 hours after its iat, whatever its exp.
            raise ValidationError(
                [("ttl", "must be an int from 30 to 86400 seconds (Vonage's 24-hour maximum)")],
                model="JWTAuth",
            )
        if refresh_margin is None:
            refresh_margin = min(60.0, ttl / 5)
        elif (
            isinstance(refresh_margin, bool)
            or not isinstance(refresh_margin, (int, float))
            or not (math.isfinite(refresh_margin) and 0 <= refresh_margin < ttl)
        ):
            raise ValidationError(
                [("refresh_margin", "must be a number of seconds >= 0 and below ttl")],
                model="JWTAuth",
            )
        if not callable(clock):
            raise ValidationError([("clock", "must be callable")], model="JWTAuth")
        import jwt  # PyJWT (and cryptography) load only for JWT users

        self._encode = jwt.encode
        self._key = _load_private_key(private_key)
        self.ttl = ttl
        self.refresh_margin = float(refresh_margin)
        self._clock = clock
        self._token = ""
        self._header = ""
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
            self._token = self._encode(claims, self._key, algorithm="RS256")
            self._header = f"Bearer {self._token}"
            self._expires = float(issued + self.ttl)
        return self._token

    def authorization(self) -> str:
        """``Bearer <jwt>`` (the same string object until the token is re-signed)."""
        self.token()
        return self._header

    def __repr__(self) -> str:
        return (
            f"JWTAuth(application_id={self.application_id!r}, "
            f"private_key={_REDACTED!r}, ttl={self.ttl})"
        )
