"""pytest fixtures for testing code that uses wamanager, against a local sandbox.

Registered as a pytest plugin (entry point ``pytest11``), so installing wamanager makes
these fixtures available everywhere; nothing to import:

* ``sandbox_config`` — the :class:`~wamanager.sandbox.SandboxConfig` to run; override it in
  your ``conftest.py`` or test module (default: a fast clock, 600 sandbox seconds per second).
* ``sandbox`` — a running :class:`~wamanager.sandbox.SandboxHandle` on a free loopback port,
  one per test.
* ``wam`` — a :class:`~wamanager.WhatsAppManager` bound to ``sandbox`` with basic auth,
  closed after the test.
* ``wam_jwt`` — the same with JWT auth (the sandbox's generated application key).

The fixtures are async; they need pytest-asyncio (``asyncio_mode = "auto"``, or mark tests
with ``@pytest.mark.asyncio``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from .client import WhatsAppManager
from .sandbox import SandboxConfig, SandboxHandle, run_sandbox

__all__ = ["sandbox", "sandbox_config", "wam", "wam_jwt"]

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


#: The default speed of ``sandbox_config``: a deployment reaches CODE_SENT in ~0.2 s.
FAST_SPEED = 600.0


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The configuration of the ``sandbox`` fixture; override to change it."""
    return SandboxConfig(speed=FAST_SPEED)


@_async_fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[SandboxHandle]:
    """A sandbox served on a free loopback port for the duration of one test."""
    async with run_sandbox(sandbox_config) as handle:
        yield handle


@_async_fixture
async def wam(sandbox: SandboxHandle) -> AsyncIterator[WhatsAppManager]:
    """A client bound to ``sandbox`` with the default account's basic credentials."""
    async with sandbox.client() as client:
        yield client


@_async_fixture
async def wam_jwt(sandbox: SandboxHandle) -> AsyncIterator[WhatsAppManager]:
    """A client bound to ``sandbox`` with JWTs signed by the default application's key."""
    async with sandbox.client(auth=sandbox.jwt_auth()) as client:
        yield client
