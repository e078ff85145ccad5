"""PollScheduler: shared ticks, the cheaper of one list or single GETs, lists that fail, and
what polling costs, counted in requests and bytes at the sandbox.

The cost tests run their watchers on sandbox time (1 sandbox second = 1/10 real second), so a
cycle of a one-second interval passes in 100 ms and they take a few seconds of real time.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aiohttp import web

from wamanager import (
    APIError,
    Deployment,
    DeploymentRequest,
    DeploymentState,
    NotFound,
    PollPolicy,
    PollScheduler,
    ServerError,
    Throttled,
    WatchTimeout,
    WhatsAppManager,
)
from wamanager._models import CurrentState
from wamanager._scheduler import WAVE
from wamanager.sandbox import SandboxConfig, SandboxHandle, Scenario

from ._served import SandboxTime, client, gated_sandbox


class StepClock:
    """A clock whose sleeps return at once, moving time forward by what was asked."""

    def __init__(self, now: float = 1000.0) -> None:
        self.time = now
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await anyio.lowlevel.checkpoint()


def _body(deployment_id: str, state: str = "CODE_SENT") -> dict[str, Any]:
    return {"deployment_id": deployment_id, "current_state": {"title": state}}


class ListingAPI:
    """Counts calls; answers every id it knows; the list answer can be replaced."""

    def __init__(self, ids: list[str], *, extra: int = 0) -> None:
        self.known = {i: _body(i) for i in ids}
        self.others = [_body(f"other-{n}", "READY") for n in range(extra)]
        self.gets = 0
        self.lists = 0
        self.list_answer: Any = None
        self.list_error: Exception | None = None

    async def get(self, deployment_id: str) -> Deployment:
        self.gets += 1
        await anyio.lowlevel.checkpoint()
        if deployment_id not in self.known:
            raise NotFound(404)
        return Deployment(deployment_id, current_state=CurrentState(DeploymentState.CODE_SENT))

    async def get_list(self) -> Any:
        self.lists += 1
        await anyio.lowlevel.checkpoint()
        if self.list_error is not None:
            raise self.list_error
        if self.list_answer is not None:
            return self.list_answer
        return [*self.known.values(), *self.others]


def _scheduler(fake: ListingAPI, **kwargs: Any) -> PollScheduler:
    kwargs.setdefault("batch_threshold", 4)
    return PollScheduler(fake.get, fake.get_list, **kwargs)


async def _poll_all(
    scheduler: PollScheduler, ids: list[str], clock: StepClock, delay: float = 1.0
) -> dict[str, Deployment | BaseException]:
    found: dict[str, Deployment | BaseException] = {}

    async def one(i: str) -> None:
        try:
            found[i] = await scheduler.poll(i, delay=delay, interval=1.0, clock=clock)
        except NotFound as exc:
            found[i] = exc

    async with anyio.create_task_group() as tg:
        for i in ids:
            tg.start_soon(one, i)
    return found


# --- pure decisions ------------------------------------------------------------------------


# --- serving cycles ----------------------------------------------------------------------


async def test_few_watchers_poll_one_by_one() -> None:
    """Below the threshold every poll is its own GET /deployments/{id}."""
    ids = ["a", "b", "c"]
    fake = ListingAPI(ids)
    scheduler = _scheduler(fake)
    clock = StepClock(1000.3)
    found = await _poll_all(scheduler, ids, clock, delay=0.9)
    assert set(found) == set(ids)
    assert (fake.gets, fake.lists, scheduler.stats.requests) == (3, 0, 3)


async def test_due_polls_of_one_tick_share_one_list_call() -> None:
    """Many polls due around the same tick are served by one GET /deployments, at the tick."""
    ids = [f"d{i}" for i in range(200)]
    fake = ListingAPI(ids)
    scheduler = _scheduler(fake)
    clock = StepClock(1000.3)
    found = await _poll_all(scheduler, ids, clock, delay=0.9)
    assert all(isinstance(v, Deployment) and v.deployment_id == k for k, v in found.items())
    assert (fake.gets, fake.lists, scheduler.stats.requests) == (0, 1, 1)
    assert scheduler.stats.served_by_list == 200
    assert scheduler.account_size == 200
    # one timer for the whole cycle: the leader waits for the tick at 1001, the others for it
    assert clock.sleeps == [pytest.approx(0.7)]


async def test_a_list_also_serves_the_next_ticks_polls() -> None:
    """Watchers spread over two neighbouring ticks (a loaded loop) still cost one list."""
    early = [f"e{i}" for i in range(100)]
    late = [f"l{i}" for i in range(100)]
    fake = ListingAPI(early + late)
    scheduler = _scheduler(fake)
    clock = StepClock(1000.0)
    found: dict[str, Deployment] = {}

    async def one(i: str, delay: float) -> None:
        found[i] = await scheduler.poll(i, delay=delay, interval=1.0, clock=clock)

    async with anyio.create_task_group() as tg:
        for i in early:
            tg.start_soon(one, i, 1.0)
        for i in late:
            tg.start_soon(one, i, 2.0)
    assert len(found) == 200
    assert (fake.lists, fake.gets) == (1, 0)


async def test_a_small_watched_share_of_a_large_account_stops_listing() -> None:
    """20 watched of 2,000: one probing list, then single GETs only."""
    ids = [f"d{i}" for i in range(20)]
    fake = ListingAPI(ids, extra=1980)
    scheduler = _scheduler(fake, batch_threshold=16)
    clock = StepClock()
    for _ in range(5):
        await _poll_all(scheduler, ids, clock)
    assert fake.lists == 1
    assert scheduler.account_size == 2000
    assert fake.gets == 4 * 20


async def test_a_deployment_missing_from_the_list_is_fetched_alone() -> None:
    """An id the list does not hold gets its own GET, so its 404 reaches its watcher."""
    fake = ListingAPI(list("abcd"))
    scheduler = _scheduler(fake)
    found = await _poll_all(scheduler, [*"abcd", "gone"], StepClock())
    assert isinstance(found["gone"], NotFound)
    assert all(isinstance(found[i], Deployment) for i in "abcd")
    assert (fake.lists, fake.gets) == (1, 1)


@pytest.mark.parametrize(
    "answer",
    [
        "garbage",
        {"unexpected": "object"},
        [{"deployment_id": "a", "current_state": "not an object"}, "junk", 7],
    ],
    ids=["string", "object", "bad-items"],
)
async def test_an_unusable_list_falls_back_to_single_gets_in_the_same_cycle(answer: Any) -> None:
    """A list of the wrong shape or with broken items still answers every poll."""
    fake = ListingAPI(list("abcd"))
    fake.list_answer = answer
    scheduler = _scheduler(fake)
    found = await _poll_all(scheduler, list("abcd"), StepClock())
    assert all(isinstance(v, Deployment) for v in found.values())
    assert (fake.lists, fake.gets) == (1, 4)


async def test_a_single_object_list_serves_its_deployment() -> None:
    """A list answering one deployment object (as Vonage's sticker guide shows) is used."""
    fake = ListingAPI(list("abcd"))
    fake.list_answer = _body("a")
    scheduler = _scheduler(fake)
    found = await _poll_all(scheduler, list("abcd"), StepClock())
    assert all(isinstance(v, Deployment) for v in found.values())
    assert (fake.lists, fake.gets) == (1, 3)


async def test_failing_lists_fall_back_then_turn_off_for_a_while() -> None:
    """A 500 list costs its cycle single GETs; after repeated failures lists stop."""
    fake = ListingAPI(list("abcd"))
    fake.list_error = ServerError(500)
    scheduler = _scheduler(fake, list_failures_allowed=2, list_backoff=60)
    clock = StepClock()
    for _ in range(5):
        found = await _poll_all(scheduler, list("abcd"), clock)
        assert all(isinstance(v, Deployment) for v in found.values())
    assert fake.lists == 2  # then off for a minute (real time)
    assert fake.gets == 5 * 4
    assert scheduler.stats.list_failures == 2


async def test_a_throttled_list_backs_every_poll_off_instead_of_fanning_out() -> None:
    """A list answered 429 is the account's limit: every poll of the cycle raises Throttled
    (its watcher backs off), no single GET is made, and lists stay on."""
    fake = ListingAPI(list("abcd"))
    fake.list_error = Throttled(429, retry_after=2.0)
    scheduler = _scheduler(fake, list_failures_allowed=1)
    clock = StepClock()
    for _ in range(3):
        found = await _poll_all_raising(scheduler, list("abcd"), clock)
        assert all(isinstance(v, Throttled) for v in found.values())
    assert (fake.lists, fake.gets) == (3, 0)
    assert scheduler.stats.list_failures == 0


async def _poll_all_raising(
    scheduler: PollScheduler, ids: list[str], clock: StepClock
) -> dict[str, Deployment | BaseException]:
    found: dict[str, Deployment | BaseException] = {}

    async def one(i: str) -> None:
        try:
            found[i] = await scheduler.poll(i, delay=1.0, interval=1.0, clock=clock)
        except Throttled as exc:
            found[i] = exc

    async with anyio.create_task_group() as tg:
        for i in ids:
            tg.start_soon(one, i)
    return found


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_an_api_without_the_list_falls_back_to_single_gets_for_good(status: int) -> None:
    """If GET /deployments is not offered, polls fall back to single GETs for good."""
    fake = ListingAPI(list("abcd"))
    fake.list_error = APIError(status)
    scheduler = _scheduler(fake, list_failures_allowed=100)
    for _ in range(3):
        await _poll_all(scheduler, list("abcd"), StepClock())
    assert fake.lists == 1
    assert fake.gets == 12


async def test_a_cancelled_leader_leaves_the_others_to_single_gets() -> None:
    """If the poll leading a cycle is cancelled mid-list, the others still get snapshots."""
    fake = ListingAPI(list("abcd"))
    started = anyio.Event()
    release = anyio.Event()

    async def slow_list() -> Any:
        fake.lists += 1
        started.set()
        await release.wait()
        return list(fake.known.values())

    scheduler = PollScheduler(fake.get, slow_list, batch_threshold=4)
    clock = StepClock()
    found: dict[str, Deployment] = {}
    leader = anyio.CancelScope()

    async def one(i: str) -> None:
        found[i] = await scheduler.poll(i, delay=1.0, interval=1.0, clock=clock)

    async def lead() -> None:
        with leader:
            await one("a")  # started first, so the first to wake: it leads the cycle

    async with anyio.create_task_group() as tg:
        tg.start_soon(lead)
        for i in "bcd":
            tg.start_soon(one, i)
        await started.wait()
        leader.cancel()
    assert set(found) == set("bcd")
    assert (fake.lists, fake.gets) == (1, 3)


async def test_cycles_are_forgotten_when_served() -> None:
    """No cycle outlives its polls, so a long watch does not grow the scheduler."""
    fake = ListingAPI(list("abcd"))
    scheduler = _scheduler(fake)
    clock = StepClock()
    for _ in range(3):
        await _poll_all(scheduler, list("abcd"), clock)
    assert scheduler._cycles == {}


async def test_polling_counts_the_polls_in_progress() -> None:
    """polling counts the polls waiting for their snapshot, and drops to 0 after them."""
    fake = ListingAPI(list("abcd"))
    scheduler = _scheduler(fake)
    seen: list[int] = []
    answer = fake.get_list

    async def get_list() -> Any:
        seen.append(scheduler.polling)
        return await answer()

    scheduler._get_list = get_list
    await _poll_all(scheduler, list("abcd"), StepClock())
    assert seen == [4]  # all four wait while the list is fetched
    assert scheduler.polling == 0


async def test_a_large_cycle_is_woken_in_waves() -> None:
    """Thousands of polls of one tick are woken a wave at a time, the loop getting a turn
    between waves (so a timer due meanwhile is not held up by all of them)."""
    ids = [f"d{i}" for i in range(3 * WAVE + 10)]
    fake = ListingAPI(ids)
    scheduler = _scheduler(fake)
    order: list[str] = []
    clock = StepClock()

    async def one(i: str) -> None:
        await scheduler.poll(i, delay=1.0, interval=1.0, clock=clock)
        order.append(i)

    async def ticker() -> None:
        while len(order) < len(ids):
            order.append("tick")
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for i in ids:
            tg.start_soon(one, i)
        tg.start_soon(ticker)
    runs = [len(list(g)) for k, g in itertools.groupby(order, key=lambda x: x == "tick") if not k]
    assert max(runs) <= WAVE
    assert fake.lists == 1


async def test_a_cancelled_sleeping_leader_hands_the_cycle_over() -> None:
    """If the poll leading a cycle is cancelled before the tick, the others still share one
    list: they register again and one of them leads."""
    fake = ListingAPI(list("abcde"))
    scheduler = _scheduler(fake)

    class Held(StepClock):
        def __init__(self) -> None:
            super().__init__()
            self.release = anyio.Event()

        async def sleep(self, seconds: float) -> None:
            await self.release.wait()

    clock = Held()
    found: dict[str, Deployment] = {}
    leader = anyio.CancelScope()

    async def one(i: str) -> None:
        found[i] = await scheduler.poll(i, delay=1.0, interval=1.0, clock=clock)

    async def lead() -> None:
        with leader:
            await one("a")

    async with anyio.create_task_group() as tg:
        tg.start_soon(lead)
        for i in "bcde":
            tg.start_soon(one, i)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        leader.cancel()
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        clock.release.set()
    assert set(found) == set("bcde")
    assert (fake.lists, fake.gets) == (1, 0)


# --- what polling costs, counted at the sandbox -------------------------------------------

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


# Speed 5: the 10 sandbox seconds of a watch take 2 real ones, so that a busy machine's
# stalls do not cost the watchers whole poll cycles (the tests count polls per cycle).
STUCK = SandboxConfig(
    speed=5, scenarios=(Scenario("*", stuck_in=S.CREATING_CLUSTER),), rate_limit=None
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
