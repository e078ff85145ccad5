"""Read OTP codes from a sandbox's inbox over HTTP: a ready-made OTP provider."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import aiohttp

from ._config import CONTROL_PREFIX

__all__ = ["SandboxInbox"]


class SandboxInbox:
    """An OTP provider for the watcher that reads ``GET /_sandbox/deployments/{id}/otp``.

    It stands in for the person who reads the SMS: pass it as ``otp=`` to
    :meth:`~wamanager.WhatsAppManager.watch` or :meth:`~wamanager.WhatsAppManager.provision`.
    It answers ``None`` while no code has been delivered (the inbox's 404), so the watcher
    keeps waiting and, after ``resend_after``, asks for another code.

    ``root_url`` is the server root (``http://127.0.0.1:8080``); ``authorization`` is the
    ``Authorization`` header value of the account that owns the deployments, or a callable
    returning a fresh one for each read (``JWTAuth(...).authorization``, or
    ``sandbox.authorization``). ``ssl_context`` trusts a ``--tls`` sandbox
    (``sandbox.ssl_context()``). Close it (or use ``async with``) to release its connections.
    """

    def __init__(
        self,
        root_url: str,
        authorization: str | Callable[[], str],
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.root_url = root_url.rstrip("/")
        self._authorization = authorization
        self._ssl = ssl_context
        self._http: aiohttp.ClientSession | None = None
        #: How many times the inbox was read.
        self.reads = 0

    async def __call__(self, deployment: Any) -> str | None:
        """The last code delivered for ``deployment`` (anything with ``deployment_id``)."""
        if self._http is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
            self._http = aiohttp.ClientSession(connector=connector)
        self.reads += 1
        authorization = self._authorization
        header = authorization if isinstance(authorization, str) else authorization()
        url = f"{self.root_url}{CONTROL_PREFIX}/deployments/{deployment.deployment_id}/otp"
        async with self._http.get(url, headers={"Authorization": header}) as response:
            if response.status == 404:
                return None
            response.raise_for_status()
            body = await response.json()
        code = body.get("code")
        return code if isinstance(code, str) else None

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> SandboxInbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SandboxInbox({self.root_url!r})"
