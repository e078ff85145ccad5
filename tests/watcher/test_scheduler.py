"""PollScheduler: shared ticks, the cheaper of one list or single GETs, and lists that fail."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from wamanager import APIError, Deployment, NotFound, PollScheduler, ServerError, Throttled
from wamanager._models import CurrentState
from wamanager._poll_plan import REQUEST_OVERHEAD_BYTES, align, list_items, list_pays
from wamanager._scheduler import WAVE
from wamanager._states import DeploymentState


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


class FakeAPI:
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


def _scheduler(fake: FakeAPI, **kwargs: Any) -> PollScheduler:
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


@pytest.mark.parametrize(
    ("now", "delay", "grid", "expected"),
    [
        (10.0, 1.0, 1.0, 11.0),
        # jittered due times round to the same tick
        (10.0, 0.9, 1.0, 11.0),
        (10.0, 1.1, 1.0, 11.0),
        (10.3, 0.9, 1.0, 11.0),
        # a poll due now waits for the next tick, never a past one
        (10.2, 0.0, 1.0, 11.0),
        (10.0, 0.0, 1.0, 11.0),
        (10.0, 0.4, 1.0, 11.0),
        # fast watchers use their own interval as the grid
        (10.0, 0.05, 0.05, 10.05),
        (10.01, 0.05, 0.05, 10.05),
        # slow states: ticks further out
        (10.0, 15.4, 1.0, 25.0),
    ],
)
def test_align(now: float, delay: float, grid: float, expected: float) -> None:
    """align() puts a due time on the nearest tick after now."""
    assert align(now, delay, grid) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("due", "account", "item", "threshold", "expected"),
    [
        (0, 10, 300, 4, False),
        # unknown account: probe once enough polls are due
        (3, None, 300, 4, False),
        (4, None, 300, 4, True),
        # N watched of an account of N: one list beats N singles
        (400, 400, 300, 16, True),
        (2, 2, 300, 16, True),
        # 20 watched of 2,000: singles cost 20 requests but far fewer bytes
        (20, 2000, 300, 16, False),
        # the break-even point, bytes and requests together
        (100, 100 + (99 * REQUEST_OVERHEAD_BYTES) // 300, 300, 16, True),
        (100, 100 + (99 * REQUEST_OVERHEAD_BYTES) // 300 + 1, 300, 16, False),
    ],
)
def test_list_pays(
    due: int, account: int | None, item: float, threshold: int, expected: bool
) -> None:
    """list_pays() picks the list only when it is no costlier than the singles it replaces."""
    assert list_pays(due, account, item, threshold) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([_body("a")], [_body("a")]),
        ({"deployments": [_body("a")]}, [_body("a")]),
        ({"_embedded": {"deployments": [_body("a")]}, "page": 1}, [_body("a")]),
        (_body("a"), [_body("a")]),
        ([], []),
        ("garbage", None),
        (None, None),
        (42, None),
        ({"error": "nope"}, None),
    ],
)
def test_list_items_accepts_every_plausible_shape(data: Any, expected: list[Any] | None) -> None:
    """A list answer may be an array, a wrapped array or one object; anything else is None."""
    assert list_items(data) == expected


# --- serving cycles ----------------------------------------------------------------------


async def test_few_watchers_poll_one_by_one() -> None:
    """Below the threshold every poll is its own GET /deployments/{id}."""
    ids = ["a", "b", "c"]
    fake = FakeAPI(ids)
    scheduler = _scheduler(fake)
    clock = StepClock(1000.3)
    found = await _poll_all(scheduler, ids, clock, delay=0.9)
    assert set(found) == set(ids)
    assert (fake.gets, fake.lists, scheduler.stats.requests) == (3, 0, 3)


async def test_due_polls_of_one_tick_share_one_list_call() -> None:
    """Many polls due around the same tick are served by one GET /deployments, at the tick."""
    ids = [f"d{i}" for i in range(200)]
    fake = FakeAPI(ids)
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
    fake = FakeAPI(early + late)
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
    fake = FakeAPI(ids, extra=1980)
    scheduler = _scheduler(fake, batch_threshold=16)
    clock = StepClock()
    for _ in range(5):
        await _poll_all(scheduler, ids, clock)
    assert fake.lists == 1
    assert scheduler.account_size == 2000
    assert fake.gets == 4 * 20


async def test_a_deployment_missing_from_the_list_is_fetched_alone() -> None:
    """An id the list does not hold gets its own GET, so its 404 reaches its watcher."""
    fake = FakeAPI(list("abcd"))
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
    fake = FakeAPI(list("abcd"))
    fake.list_answer = answer
    scheduler = _scheduler(fake)
    found = await _poll_all(scheduler, list("abcd"), StepClock())
    assert all(isinstance(v, Deployment) for v in found.values())
    assert (fake.lists, fake.gets) == (1, 4)


async def test_a_single_object_list_serves_its_deployment() -> None:
    """A list answering one deployment object (as Vonage's sticker guide shows) is used."""
    fake = FakeAPI(list("abcd"))
    fake.list_answer = _body("a")
    scheduler = _scheduler(fake)
    found = await _poll_all(scheduler, list("abcd"), StepClock())
    assert all(isinstance(v, Deployment) for v in found.values())
    assert (fake.lists, fake.gets) == (1, 3)


async def test_failing_lists_fall_back_then_turn_off_for_a_while() -> None:
    """A 500 list costs its cycle single GETs; after repeated failures lists stop."""
    fake = FakeAPI(list("abcd"))
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
    fake = FakeAPI(list("abcd"))
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
    fake = FakeAPI(list("abcd"))
    fake.list_error = APIError(status)
    scheduler = _scheduler(fake, list_failures_allowed=100)
    for _ in range(3):
        await _poll_all(scheduler, list("abcd"), StepClock())
    assert fake.lists == 1
    assert fake.gets == 12


async def test_a_cancelled_leader_leaves_the_others_to_single_gets() -> None:
    """If the poll leading a cycle is cancelled mid-list, the others still get snapshots."""
    fake = FakeAPI(list("abcd"))
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
    fake = FakeAPI(list("abcd"))
    scheduler = _scheduler(fake)
    clock = StepClock()
    for _ in range(3):
        await _poll_all(scheduler, list("abcd"), clock)
    assert scheduler._cycles == {}


async def test_polling_counts_the_polls_in_progress() -> None:
    """polling counts the polls waiting for their snapshot, and drops to 0 after them."""
    fake = FakeAPI(list("abcd"))
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
    fake = FakeAPI(ids)
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
    fake = FakeAPI(list("abcde"))
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
