"""Delivering a watch's events: slow callbacks and full buffers never delay polls, and
wait_for works beside another waiter (a scripted deployment, a virtual clock)."""

from __future__ import annotations

import anyio
import anyio.lowlevel

from wamanager import Deployment, Event, Succeeded
from wamanager.testing import VirtualClock

from ._scripted_watch import Remote, S, watcher


async def test_a_slow_callback_never_delays_polls() -> None:
    """Delivery runs beside the poll loop: a callback that blocks does not hold a poll."""
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CLUSTER_CREATED, S.READY])
    release = anyio.Event()
    delivered: list[Event] = []

    async def slow(event: Event) -> None:
        await release.wait()
        delivered.append(event)

    w = watcher(remote, VirtualClock())
    w.on(Event, slow)
    async with anyio.create_task_group() as tg, w:
        with anyio.fail_after(5):
            while len(remote.polls) < 4:
                await anyio.lowlevel.checkpoint()
        assert delivered == []  # every poll happened while the first callback blocked
        release.set()
        result = await w.result()
        tg.cancel_scope.cancel()
    assert result.state is S.READY
    assert isinstance(delivered[-1], Succeeded)


async def test_a_full_event_buffer_never_delays_polls() -> None:
    """An iterator nobody reads (buffer of 1) fills up; the watch still reaches READY."""
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CLUSTER_CREATED, S.CODE_SENT, S.READY])
    w = watcher(remote, VirtualClock(), buffer_size=1)
    async with w:
        stream = w.events()
        with anyio.fail_after(5):
            while len(remote.polls) < 5:
                await anyio.lowlevel.checkpoint()
        first = await stream.__anext__()
        stream.close()
        assert (await w.result()).state is S.READY
    assert first.deployment_id == "d1"


async def test_wait_for_works_while_another_task_awaits_the_result() -> None:
    """wait_for() needs no `async with`: it works beside `await watcher.result()`."""
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CODE_SENT, S.CODE_VERIFIED, S.READY])
    w = watcher(remote, VirtualClock())
    seen: list[Deployment] = []

    async def wait() -> None:
        seen.append(await w.wait_for(S.CODE_SENT))

    async with anyio.create_task_group() as tg:
        tg.start_soon(w.result)
        await anyio.lowlevel.checkpoint()
        tg.start_soon(wait)
    assert [d.state for d in seen] == [S.CODE_SENT]
