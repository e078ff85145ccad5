"""The typed keys under which the application keeps its parts, and a request its caller.

:func:`~._routes.create_app` puts the parts in; handlers, middleware and the control API take
them out. Only :data:`ENGINE` is public (``app[ENGINE]`` is the sandbox's state).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._auth import Authenticator
from ._config import Account
from ._engine import SandboxEngine
from ._faults import FaultInjector
from ._rate_limit import TokenBuckets

__all__ = ["ACCOUNT", "AUTH", "ENGINE", "FAULTS", "OPERATIONS", "RATE_LIMIT", "account_of"]

#: The application's :class:`SandboxEngine`.
ENGINE = web.AppKey("wamanager_sandbox_engine", SandboxEngine)
#: Who may call: the :class:`~._auth.Authenticator`.
AUTH = web.AppKey("wamanager_sandbox_auth", Authenticator)
#: The per-account rate limit; absent when the config has none.
RATE_LIMIT = web.AppKey("wamanager_sandbox_rate_limit", TokenBuckets)
#: The seeded :class:`~._faults.FaultInjector`.
FAULTS = web.AppKey("wamanager_sandbox_faults", FaultInjector)
#: ``(method, canonical path) → the spec's operationId`` of every API route (for the stats).
OPERATIONS: web.AppKey[dict[tuple[str, str], str]] = web.AppKey("wamanager_sandbox_operations")
#: The caller's :class:`Account`, set on the request by the auth middleware.
# aiohttp 3.13+ wants typed request keys; older versions take a plain string.
ACCOUNT: Any = (
    web.RequestKey("wamanager_sandbox_account", Account)  # type: ignore[attr-defined,unused-ignore]
    if hasattr(web, "RequestKey")
    else "wamanager_sandbox_account"
)


def account_of(request: web.Request) -> Account:
    """The authenticated caller of ``request`` (set by the auth middleware)."""
    account: Account = request[ACCOUNT]
    return account
