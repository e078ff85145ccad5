"""Fixtures for the unit tests: a loopback fake API, a sleep recorder and a client bound to both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from wamanager import WhatsAppManager
from wamanager.testing import FakeAPI, SleepRecorder

from ._support import client_for


@pytest.fixture
async def api() -> AsyncIterator[FakeAPI]:
    """A fake API server on 127.0.0.1 that records requests and answers queued replies."""
    fake = FakeAPI()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def sleeps() -> SleepRecorder:
    """An injectable sleep that records delays instead of waiting."""
    return SleepRecorder()


@pytest.fixture
async def make_client(
    api: FakeAPI, sleeps: SleepRecorder
) -> AsyncIterator[Callable[..., WhatsAppManager]]:
    """A factory of clients bound to the fake; every client made is closed afterwards."""
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
