"""Testing helpers: pytest fixtures on a local sandbox, and fakes for tests without one.

Registered as a pytest plugin (entry point ``pytest11``), so installing wamanager makes
these fixtures available everywhere; nothing to import. Their names carry a ``wamanager_``
prefix so that they never collide with another plugin's:

* ``wamanager_sandbox_config`` — the :class:`~wamanager.sandbox.SandboxConfig` to run;
  override it in your ``conftest.py`` or test module (default: a fast clock, 600 sandbox
  seconds per real second).
* ``wamanager_sandbox`` — a running :class:`~wamanager.sandbox.SandboxHandle` on a free
  loopback port, one per test.
* ``wamanager_client`` — a :class:`~wamanager.WhatsAppManager` bound to the sandbox with JWT
  auth (the scheme the spec applies), closed after the test.

:func:`sandbox_client` builds such a client for any running sandbox (``run_sandbox(...)``).

For unit tests that need no sandbox, the module also ships fakes:

* :class:`FakeAPI` — a loopback server that records every request and answers queued
  :class:`Reply` objects or a handler's (``FakeAPI(handler)``, like httpx's ``MockTransport``).
* :class:`SleepRecorder` — a ``sleep=`` for the client that records delays and returns at once.
* :class:`VirtualClock` — a ``clock=`` for watchers whose time jumps to the next deadline.

The fixtures are async: they need pytest-asyncio. Under its default *strict* mode, mark the
tests that use them with ``@pytest.mark.asyncio`` (or set ``asyncio_mode = "auto"``).

Loading the plugin imports nothing but pytest: the sandbox, the client and aiohttp's server
are imported when a fixture or a fake is first used, so installing wamanager costs other
projects' test runs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

from ._fake_api import BASE_PATH, FakeAPI, Handler, Hold, RecordedRequest, Reply
from ._time import SleepRecorder, VirtualClock

if TYPE_CHECKING:
    from .._client import WhatsAppManager
    from ..sandbox import SandboxConfig, SandboxHandle

__all__ = [
    "BASE_PATH",
    "FakeAPI",
    "Handler",
    "Hold",
    "RecordedRequest",
    "Reply",
    "SleepRecorder",
    "VirtualClock",
    "sandbox_client",
    "wamanager_client",
    "wamanager_sandbox",
    "wamanager_sandbox_config",
]

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - exercised only without pytest-asyncio
    # The plugin loads in every pytest run once wamanager is installed: it must never break
    # a run that lacks pytest-asyncio, only say what the async fixtures need when used.
    def _async_fixture(func: Callable[..., Any]) -> Any:  # type: ignore[no-redef]
        @pytest.fixture(name=func.__name__)
        def needs_pytest_asyncio() -> None:
            pytest.fail(
                f"the {func.__name__!r} fixture is async: install pytest-asyncio "
                "(pip install 'wamanager[testing]')"
            )

        return needs_pytest_asyncio


def sandbox_client(handle: SandboxHandle, **client_kwargs: Any) -> WhatsAppManager:
    """A :class:`~wamanager.WhatsAppManager` for ``handle``, signing JWTs with its default
    application's key (close it, or use ``async with``).

    On a sandbox whose clock runs by itself (``speed``), the client's watchers run on it:
    ``resend_after=300`` and every poll interval are *sandbox* seconds. On a ``ManualClock``
    they keep real time (the sandbox moves only when the test advances it); pass
    ``clock=handle.clock`` to put them on the manual clock too, and advance it for them.

    ``client_kwargs`` go to the client (``max_retries=0``, ``sleep=...``, ``session=...``, or
    ``auth=`` to use other credentials). Raises :class:`RuntimeError` when the sandbox was
    given its own applications (the handle then knows no private key): build the client
    with your key instead.
    """
    from .._auth import JWTAuth
    from .._client import WhatsAppManager

    if "auth" not in client_kwargs:
        if handle.private_key_pem is None:
            raise RuntimeError(
                "the sandbox has no generated application key; pass auth=JWTAuth(...)"
            )
        client_kwargs["auth"] = JWTAuth(handle.application_id, handle.private_key_pem)
    from ..sandbox import ManualClock

    if not isinstance(handle.clock, ManualClock):
        client_kwargs.setdefault("clock", handle.clock)
    return WhatsAppManager(base_url=handle.base_url, **client_kwargs)


#: The default speed of ``wamanager_sandbox_config``: a deployment reaches CODE_SENT in ~0.2 s.
FAST_SPEED = 600.0


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """The configuration of the ``wamanager_sandbox`` fixture; override to change it."""
    from ..sandbox import SandboxConfig

    return SandboxConfig(speed=FAST_SPEED)


@_async_fixture
async def wamanager_sandbox(
    wamanager_sandbox_config: SandboxConfig,
) -> AsyncIterator[SandboxHandle]:
    """A sandbox served on a free loopback port for the duration of one test."""
    from ..sandbox import run_sandbox

    async with run_sandbox(wamanager_sandbox_config) as handle:
        yield handle


@_async_fixture
async def wamanager_client(wamanager_sandbox: SandboxHandle) -> AsyncIterator[WhatsAppManager]:
    """A client bound to ``wamanager_sandbox``, with JWTs signed by its application's key."""
    async with sandbox_client(wamanager_sandbox) as client:
        yield client
