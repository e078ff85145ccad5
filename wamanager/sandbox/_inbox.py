"""Read OTP codes from a sandbox's inbox over HTTP: a ready-made OTP provider."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp

from ._app import INBOX_PREFIX

__all__ = ["SandboxInbox"]


class SandboxInbox:
    """An OTP provider for the watcher that reads ``GET /_sandbox/deployments/{id}/otp``.

    It stands in for the person who reads the SMS: pass it as ``otp=`` to
    :meth:`~wamanager.WhatsAppManager.watch` or :meth:`~wamanager.WhatsAppManager.provision`.
    It answers ``None`` while no code has been delivered (the inbox's 404), so the watcher
    keeps waiting and, after ``resend_after``, asks for another code.

    ``root_url`` is the server root (``http://127.0.0.1:8080``), ``authorization`` an
    ``Authorization`` header value of the account that owns the deployments. Close it (or use
    ``async with``) to release its connections.
    """

    def __init__(self, root_url: str, authorization: str) -> None:
        self.root_url = root_url.rstrip("/")
        self._headers = {"Authorization": authorization}
        self._http: aiohttp.ClientSession | None = None
        #: How many times the inbox was read.
        self.reads = 0

    async def __call__(self, deployment: Any) -> str | None:
        """The last code delivered for ``deployment`` (anything with ``deployment_id``)."""
        if self._http is None:
            self._http = aiohttp.ClientSession(headers=self._headers)
        self.reads += 1
        url = f"{self.root_url}{INBOX_PREFIX}/deployments/{deployment.deployment_id}/otp"
        async with self._http.get(url) as response:
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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SandboxInbox({self.root_url!r})"
