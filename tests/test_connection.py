"""The connection the session and its copies share: its headers (User-Agent, Accept,
Authorization), its pool and the request slots that bound requests in flight."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import anyio
import pytest

import wamanager
from wamanager import BasicAuth, WhatsAppManager
from wamanager._connection import USER_AGENT, RequestSlots
from wamanager.testing import FakeAPI, SleepRecorder

from ._support import DEP


async def test_user_agent_names_the_library_and_version(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """Every request carries User-Agent wamanager/<version>."""
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    agent = api.requests[0].headers["User-Agent"]
    assert agent.startswith(f"wamanager/{wamanager.__version__} ")
    assert agent == USER_AGENT


async def test_user_agent_is_sent_through_a_user_session(
    api: FakeAPI, sleeps: SleepRecorder
) -> None:
    """A user-passed aiohttp session still sends wamanager's User-Agent."""
    async with aiohttp.ClientSession() as http:
        client = WhatsAppManager(BasicAuth("k", "s"), base_url=api.base_url, session=http)
        api.reply(200, {"deployment_id": DEP})
        await client.deployments.get(DEP)
    assert api.requests[0].headers["User-Agent"].startswith("wamanager/")


async def test_accept_and_authorization_headers(api: FakeAPI, client: WhatsAppManager) -> None:
    """Requests accept JSON and carry the auth's Authorization header."""
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    sent = api.requests[0]
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Authorization"] == client.session.auth.authorization()
    assert "Content-Type" not in sent.headers or not sent.body


async def test_queueing_for_a_pooled_connection_is_not_timed(api: FakeAPI) -> None:
    """With a one-connection pool, a second call starts its attempt (and its timer) only
    once the first has its answer; the attempt timeout never counts the queueing."""
    started: list[str] = []
    original = aiohttp.ClientSession.request

    def spy(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        started.append(str(url))
        return original(self, method, url, **kwargs)

    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = WhatsAppManager(
            BasicAuth("k", "s"), base_url=api.base_url, session=http, timeout=5
        )
        held = api.hold(200, {"deployment_id": DEP})
        api.reply(200, {"deployment_id": DEP})
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(aiohttp.ClientSession, "request", spy)
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.deployments.get, DEP)
                tg.start_soon(client.deployments.get, DEP)
                await held.arrived.wait()
                await anyio.wait_all_tasks_blocked()
                assert len(started) == 1  # the second waits for the connection, untimed
                held.release.set()
        assert len(started) == 2
        assert len(api.requests) == 2


async def test_own_pool_is_sized_for_bulk(client: WhatsAppManager) -> None:
    """The client's own pool keeps 100 connections and lets 100 requests fly at once."""
    async with client:
        http = client.session._connection.client()
        assert http.connector is not None
        assert http.connector.limit == 100
        slots = client.session._connection.slots
        assert slots is not None
        assert slots.free == 100


@pytest.mark.parametrize(("limit", "per_host", "slots"), [(7, 0, 7), (10, 3, 3), (0, 0, None)])
async def test_a_user_pool_bounds_requests_in_flight(
    limit: int, per_host: int, slots: int | None, api: FakeAPI
) -> None:
    """With a session of yours, requests in flight follow its connector's limits."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = WhatsAppManager(BasicAuth("k", "s"), base_url=api.base_url, session=http)
        semaphore = client.session._connection.slots
        assert (None if semaphore is None else semaphore.free) == slots


async def test_slots_serve_waiters_in_order() -> None:
    """Past the pool's size, takers wait and get freed slots in arrival order."""
    slots = RequestSlots(1)
    await slots.take()
    order: list[str] = []

    async def taker(name: str) -> None:
        await slots.take()
        order.append(name)
        slots.give()

    async with anyio.create_task_group() as tg:
        tg.start_soon(taker, "a")
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(taker, "b")
        await anyio.wait_all_tasks_blocked()
        assert order == []
        slots.give()
    assert order == ["a", "b"]
    assert slots.free == 1


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    """A taker cancelled while waiting leaves the queue; the slot goes to the next one."""
    slots = RequestSlots(1)
    await slots.take()
    got: list[str] = []

    async def taker(name: str) -> None:
        await slots.take()
        got.append(name)

    async with anyio.create_task_group() as tg:
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(taker, "cancelled")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(taker, "next")
            await anyio.wait_all_tasks_blocked()
            doomed.cancel_scope.cancel()
        slots.give()
    assert got == ["next"]
    assert slots.free == 0


async def test_a_slot_handed_to_a_cancelled_waiter_is_passed_on() -> None:
    """A slot given to a waiter that is cancelled before it runs is not lost."""
    slots = RequestSlots(1)
    await slots.take()
    loop = asyncio.get_running_loop()
    waiting = loop.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to the waiter ...
    waiting.cancel()  # ... which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert slots.free == 1
    assert slots.try_take()
