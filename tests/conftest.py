"""Fixtures for this project's own tests: short names, the fake API, and the hygiene check.

The plugin's fixtures carry a ``wamanager_`` prefix (so they never collide with another
plugin's); the tests here use them under shorter names. Override ``wamanager_sandbox_config``
to change the sandbox a test module runs. Tests without a sandbox use ``api`` (a
:class:`~wamanager.testing.FakeAPI`), ``sleeps`` and ``client`` / ``make_client``.

Every test also runs under ``_nothing_left_open``: a test that leaves an aiohttp client
session, connector, server runner or task behind fails; and ResourceWarning is an error
(``pyproject.toml``), so an unclosed socket or file fails the test that leaked it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from wamanager import WhatsAppManager
from wamanager.sandbox import SandboxHandle
from wamanager.testing import FakeAPI, SleepRecorder

pytest_plugins = ["pytester"]


@pytest.fixture
def sandbox(wamanager_sandbox: SandboxHandle) -> SandboxHandle:
    """The running sandbox of the test (``wamanager_sandbox``)."""
    return wamanager_sandbox


@pytest.fixture
def wam(wamanager_client: WhatsAppManager) -> WhatsAppManager:
    """A client bound to the test's sandbox with JWT auth (``wamanager_client``)."""
    return wamanager_client


@pytest.fixture
async def api() -> AsyncIterator[FakeAPI]:
    """A fake API server on 127.0.0.1 that records requests and answers queued replies."""
    async with FakeAPI() as fake:
        yield fake


@pytest.fixture
def sleeps() -> SleepRecorder:
    """An injectable sleep that records delays instead of waiting."""
    return SleepRecorder()


@pytest.fixture
async def make_client(
    api: FakeAPI, sleeps: SleepRecorder
) -> AsyncIterator[Callable[..., WhatsAppManager]]:
    """A factory of clients bound to the fake; every client made is closed afterwards."""
    # Imported here: tests/test_hygiene.py runs this file alone, without the support module.
    from ._support import client_for

    made: list[WhatsAppManager] = []

    def make(**kwargs: Any) -> WhatsAppManager:
        client = client_for(api, sleeps, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def client(make_client: Callable[..., WhatsAppManager]) -> WhatsAppManager:
    """A client bound to the fake, with the default retry policy."""
    return make_client()


# --- hygiene: nothing a test opens outlives it ---------------------------------------------

#: Every session, connector and runner made since the current test began.
_OPENED: list[object] = []


def _track(cls: type[Any]) -> None:
    """Record every instance of ``cls`` made from now on."""
    original = cls.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _OPENED.append(self)

    cls.__init__ = init  # type: ignore[method-assign]


def _still_open(thing: object) -> bool:
    if isinstance(thing, aiohttp.ClientSession | aiohttp.BaseConnector):
        return not thing.closed
    if isinstance(thing, web.BaseRunner):
        return bool(thing.sites) or thing.server is not None
    return False


for _cls in (aiohttp.ClientSession, aiohttp.BaseConnector, web.BaseRunner):
    _track(_cls)


@pytest.fixture(autouse=True)
async def _nothing_left_open() -> AsyncIterator[None]:
    """Fail a test that leaves a client session, connector, server or task behind."""
    before = set(asyncio.all_tasks())
    yield
    for _ in range(3):  # let closing callbacks run
        await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    opened = [thing for thing in _OPENED if _still_open(thing)]
    _OPENED.clear()
    assert not left, f"tasks left running: {left}"
    assert not opened, f"left open: {opened}"
