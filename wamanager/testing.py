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

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .client import WhatsAppManager
from .sandbox import SandboxConfig, SandboxHandle, run_sandbox

__all__ = ["sandbox", "sandbox_config", "wam", "wam_jwt"]

#: The default speed of ``sandbox_config``: a deployment reaches CODE_SENT in ~0.2 s.
FAST_SPEED = 600.0


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The configuration of the ``sandbox`` fixture; override to change it."""
    return SandboxConfig(speed=FAST_SPEED)


@pytest_asyncio.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[SandboxHandle]:
    """A sandbox served on a free loopback port for the duration of one test."""
    async with run_sandbox(sandbox_config) as handle:
        yield handle


@pytest_asyncio.fixture
async def wam(sandbox: SandboxHandle) -> AsyncIterator[WhatsAppManager]:
    """A client bound to ``sandbox`` with the default account's basic credentials."""
    async with sandbox.client() as client:
        yield client


@pytest_asyncio.fixture
async def wam_jwt(sandbox: SandboxHandle) -> AsyncIterator[WhatsAppManager]:
    """A client bound to ``sandbox`` with JWTs signed by the default application's key."""
    async with sandbox.client(auth=sandbox.jwt_auth()) as client:
        yield client
