"""What polling costs, counted in requests and bytes at the sandbox.

The watchers run on sandbox time (1 sandbox second = 1/10 real second here), so a cycle of
a one-second interval passes in 100 ms and these tests take a few seconds of real time.
"""

from __future__ import annotations

import json

import anyio
import pytest
from aiohttp import web

from wamanager import (
    Deployment,
    DeploymentRequest,
    DeploymentState,
    PollPolicy,
    WatchTimeout,
    WhatsAppManager,
)
from wamanager.sandbox import SandboxConfig, SandboxHandle, Scenario

from ._served import SandboxTime, client, gated_sandbox

S = DeploymentState
LIST = ("GET", "deployments")
SINGLE = ("GET", "{id}")


def request(n: int) -> DeploymentRequest:
    """A valid request for the ``n``-th test number."""
    return DeploymentRequest(
        country_code="44", number=f"77{n:08d}", vname_certificate="C", waba_id="1"
    )


async def create(wam: WhatsAppManager, first: int, count: int) -> list[str]:
    """Create ``count`` deployments, numbers from ``first`` on; their ids."""
    ids: list[str] = []

    async def one(n: int) -> None:
        ids.append((await wam.deployments.create(request(n))).deployment_id)

    async with anyio.create_task_group() as tg:
        for n in range(first, first + count):
            tg.start_soon(one, n)
    return ids


async def watch_for(
    wam: WhatsAppManager, sandbox: SandboxHandle, ids: list[str], seconds: float
) -> None:
    """Watch ``ids`` for ``seconds`` sandbox seconds (1 s interval, 10% jitter)."""
    policy = PollPolicy(interval=1.0, jitter=0.1, deadline=seconds)
    clock = SandboxTime(sandbox.clock)

    async def one(dep_id: str) -> None:
        with pytest.raises(WatchTimeout):
            await wam.watch(dep_id, policy=policy, clock=clock)

    async with anyio.create_task_group() as tg:
        for dep_id in ids:
            tg.start_soon(one, dep_id)


STUCK = SandboxConfig(
    speed=10, scenarios=(Scenario("*", stuck_in=S.CREATING_CLUSTER),), rate_limit=None
)


async def test_n_watched_of_an_account_of_n_cost_one_list_per_interval() -> None:
    """400 watched deployments, the whole account, polled every second: about one list call
    per second, and nearly no single GETs."""
    async with gated_sandbox(STUCK) as (sandbox, gate), client(sandbox) as wam:
        ids = await create(wam, 0, 400)
        await watch_for(wam, sandbox, ids, seconds=10)
    cycles = 10
    assert gate.counts[LIST] <= cycles + 2
    assert gate.counts[SINGLE] <= 40  # the first polls, before the first list
    # ... and every watcher was still polled about once a second
    assert wam.scheduler.stats.served_by_list >= 400 * (cycles - 3)
    # one list of 400 costs less than the 400 single GETs it replaces, even in bytes
    per_item = gate.bytes[LIST] / (gate.counts[LIST] * 400)
    assert per_item < 400


async def test_a_few_watched_in_a_large_account_never_list_twice() -> None:
    """20 watched deployments in an account of 2,000: at most one (probing) list call."""
    async with gated_sandbox(STUCK) as (sandbox, gate), client(sandbox) as wam:
        ids = await create(wam, 0, 2000)
        await watch_for(wam, sandbox, ids[:20], seconds=10)
    assert gate.counts[LIST] <= 1
    assert gate.counts[SINGLE] >= 20 * (10 - 3)  # about one poll per second each
    list_bytes = gate.bytes[LIST]
    assert gate.bytes[SINGLE] < 5 * max(list_bytes, 1) or list_bytes == 0


def _server_error(_: web.Response) -> web.StreamResponse:
    return web.json_response({"title": "Internal Server Error"}, status=500)


def _single_object(response: web.Response) -> web.StreamResponse:
    assert isinstance(response.body, bytes)
    items = json.loads(response.body)
    return web.json_response(items[0] if items else {})


def _garbage(_: web.Response) -> web.StreamResponse:
    return web.Response(text="<html>oops</html>", content_type="text/html")


def _broken_items(response: web.Response) -> web.StreamResponse:
    assert isinstance(response.body, bytes)
    items = json.loads(response.body)
    items[0]["current_state"] = "not an object"
    return web.json_response([*items, "junk", 42])


@pytest.mark.parametrize(
    "rewrite",
    [_server_error, _single_object, _garbage, _broken_items],
    ids=["500", "single-object", "garbage", "broken-items"],
)
async def test_a_bad_list_never_stalls_a_watcher(rewrite: object) -> None:
    """Whatever the list answers, every batched watcher still reaches READY."""
    config = SandboxConfig(speed=600, rate_limit=None)
    async with gated_sandbox(config) as (sandbox, gate), client(sandbox) as wam:
        gate.rewrites[LIST] = rewrite  # type: ignore[assignment]
        ids = await create(wam, 0, 30)
        ready: list[Deployment] = []
        policy = PollPolicy(interval=0.02, jitter=0.2)

        async def one(dep_id: str) -> None:
            ready.append(await wam.watch(dep_id, otp=sandbox.otp_provider, policy=policy))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for dep_id in ids:
                    tg.start_soon(one, dep_id)
    assert len(ready) == 30
    assert {d.state for d in ready} == {S.READY}
    assert gate.counts[LIST] >= 1  # a list was tried, and did not hold anyone up
