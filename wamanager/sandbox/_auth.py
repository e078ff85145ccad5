"""Who is calling: basic credentials or a Bearer JWT, checked for real."""

from __future__ import annotations

import base64
import binascii
import hmac

import jwt

from ._config import Account, Application, SandboxConfig
from ._problems import unauthorized

__all__ = ["Authenticator"]


class Authenticator:
    """Maps an ``Authorization`` header to an :class:`Account`, or raises 401.

    ``Basic``: the api key and secret of a configured account. ``Bearer``: a JWT signed RS256
    with a configured application's private key, whose ``application_id`` claim names the
    application and whose ``exp`` is in the future (``iat`` too must be present); it acts as
    the application's account.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self._accounts = {account.api_key: account for account in config.accounts}
        self._applications: dict[str, Application] = {
            app.application_id: app for app in config.applications
        }

    def authenticate(self, header: str | None) -> Account:
        """The caller's account. Raises a 401 :class:`SandboxProblem` otherwise."""
        scheme, _, credentials = (header or "").strip().partition(" ")
        credentials = credentials.strip()
        account: Account | None = None
        if scheme.lower() == "basic" and credentials:
            account = self._basic(credentials)
        elif scheme.lower() == "bearer" and credentials:
            account = self._bearer(credentials)
        if account is None:
            raise unauthorized()
        return account

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

    def _bearer(self, token: str) -> Account | None:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        app_id = unverified.get("application_id")
        app = self._applications.get(app_id) if isinstance(app_id, str) else None
        if app is None:
            return None
        try:
            jwt.decode(
                token,
                app.public_key,
                algorithms=["RS256"],
                options={"require": ["exp", "iat", "application_id"]},
                leeway=5,
            )
        except jwt.PyJWTError:
            return None
        return self._accounts.get(app.api_key)
