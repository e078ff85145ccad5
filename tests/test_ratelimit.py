"""The RateLimiter on a virtual clock: spacing, learning a limit, pauses and waiters."""

from __future__ import annotations

import math
import random
from typing import Any

import anyio
import pytest

from wamanager import RateLimiter, ValidationError
from wamanager._rate_control import Phase, RateControl
from wamanager.testing import SleepRecorder

CONTROL = RateControl()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class VirtualSleep:
    """A sleep that moves a FakeClock forward (and yields), recording each delay."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.now += seconds
        await anyio.lowlevel.checkpoint()


class GatedSleep(VirtualSleep):
    """A VirtualSleep that holds every sleeper until the test opens ``gate``."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.gate = anyio.Event()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await self.gate.wait()
        self.clock.now += seconds


def gated_limiter(**kwargs: Any) -> tuple[RateLimiter, GatedSleep]:
    """A limiter on a virtual clock whose sleepers wait for the test's go."""
    clock = FakeClock()
    sleep = GatedSleep(clock)
    return RateLimiter(clock=clock, sleep=sleep, **kwargs), sleep


def virtual_limiter(**kwargs: Any) -> tuple[RateLimiter, FakeClock, VirtualSleep]:
    """A limiter on a virtual clock whose sleeps move that clock."""
    clock = FakeClock()
    sleep = VirtualSleep(clock)
    return RateLimiter(clock=clock, sleep=sleep, **kwargs), clock, sleep


# --- spacing (a known limit) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "burst", "steps", "expected"),
    [
        # (time of each acquire(), the wait it sleeps); the sleep does not move the clock
        (2.0, 1, [0, 0, 0, 0], [0.5, 1.0, 1.5]),
        (1.0, 3, [0, 0, 0, 0, 0], [1.0, 2.0]),
        (1.0, 1, [0, 1, 2, 3], []),  # spaced already: no waits
        (1.0, 1, [0, 0.25, 0.5], [0.75, 1.5]),
        (1.0, 1, [0, 10, 10], [1.0]),  # idle time does not bank more than burst
        (1.0, 2, [0, 10, 10, 10], [1.0]),
        (4.0, 2, [0, 0, 0, 0.5, 0.5], [0.25, 0.25]),
        (None, 1, [0, 0, 0], [0.1, 0.2]),  # no limit given: 10/s to start with
    ],
)
async def test_spacing_table(
    limit: float | None, burst: int, steps: list[float], expected: list[float]
) -> None:
    """Slots are handed out `limit` per second with bursts of `burst`, in arrival order."""
    clock = FakeClock()
    sleeps = SleepRecorder()
    limiter = RateLimiter(limit, burst=burst, clock=clock, sleep=sleeps)
    start = clock.now
    for at in steps:
        clock.now = start + at
        await limiter.acquire()
    assert sleeps.delays == pytest.approx(expected)


async def test_tickets_count_the_requests_released() -> None:
    """acquire() returns increasing tickets, one per request released."""
    limiter, _, _ = virtual_limiter(limit=100.0)
    assert [await limiter.acquire() for _ in range(3)] == [1, 2, 3]


# --- learning ------------------------------------------------------------------------------


async def test_slow_start_doubles_the_rate_while_requests_queue() -> None:
    """From 10/s, one second of back-to-back requests makes the rate about 40/s."""
    limiter, clock, _ = virtual_limiter()
    start = clock.now
    while clock.now - start < 1.0:
        await limiter.acquire()
    assert limiter.phase is Phase.SLOW_START
    assert limiter.rate == pytest.approx(40.0, rel=0.15)


async def test_idle_time_does_not_grow_the_rate() -> None:
    """Requests that never wait for a slot leave the rate where it was."""
    limiter, clock, sleep = virtual_limiter()
    for _ in range(20):
        await limiter.acquire()
        clock.now += 1.0
    assert sleep.delays == []
    assert limiter.rate == CONTROL.initial_rate


async def test_a_ceiling_caps_growth_and_is_the_starting_rate() -> None:
    """With limit=5 the rate starts at 5/s and never grows past it."""
    limiter, _clock, _ = virtual_limiter(limit=5.0)
    assert limiter.rate == 5.0
    for _ in range(50):
        await limiter.acquire()
    assert limiter.rate == 5.0


async def test_throttled_pauses_and_drops_to_what_was_accepted() -> None:
    """A fresh 429 pauses for the wait and sets the rate to 0.9 × the accepted rate."""
    limiter, clock, _ = virtual_limiter(limit=100.0)
    for _ in range(40):
        ticket = await limiter.acquire()
        limiter.accepted()
    # 40 answers in 0.39 s at 100/s; the 429 comes 0.01 s after the last one.
    clock.now += 0.01
    limiter.throttled(ticket, 2.0)
    assert limiter.phase is Phase.AVOIDANCE
    assert limiter.paused_until == pytest.approx(clock.now + 2.0)
    assert limiter.estimate == pytest.approx(40 / 0.4)
    assert limiter.rate == pytest.approx(0.9 * 100.0)


async def test_stale_throttle_pauses_without_a_second_decrease() -> None:
    """429s to requests released before the last decrease pause, but keep the rate."""
    limiter, clock, _ = virtual_limiter(limit=100.0)
    tickets = []
    for _ in range(30):
        tickets.append(await limiter.acquire())
        limiter.accepted()
    limiter.throttled(tickets[-2], 1.0)
    rate = limiter.rate
    limiter.throttled(tickets[-1], 1.5)
    assert limiter.rate == rate
    assert limiter.paused_until == pytest.approx(clock.now + 1.5)


async def test_after_a_pause_waiters_are_released_one_at_a_time() -> None:
    """Requests queued during a pause go out spaced at the learned rate, never at once."""
    limiter, clock, _ = virtual_limiter(limit=10.0)
    released: list[float] = []
    limiter.pause(3.0)
    pause_end = clock.now + 3.0

    async def request() -> None:
        await limiter.acquire()
        released.append(clock.now)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(request)
    assert released == pytest.approx([pause_end + 0.1 * i for i in range(5)])


async def test_a_pause_reaches_a_request_already_waiting() -> None:
    """A pause set while the first in line sleeps holds it until the pause ends."""
    limiter, clock, _ = virtual_limiter(limit=1.0)
    await limiter.acquire()

    async def pause_soon() -> None:
        limiter.pause(10.0)  # runs while the request below sleeps for its slot

    async with anyio.create_task_group() as tg:
        tg.start_soon(pause_soon)
        await limiter.acquire()
    assert clock.now >= 100.0 + 10.0


async def test_priority_waiters_go_first() -> None:
    """A retry after a 429 (priority) is released before requests that queued earlier."""
    limiter, sleep = gated_limiter(limit=10.0)
    order: list[str] = []
    limiter.pause(1.0)

    async def request(name: str, priority: bool) -> None:
        await limiter.acquire(priority=priority)
        order.append(name)

    async with anyio.create_task_group() as tg:
        for name in ("first", "second", "third"):
            tg.start_soon(request, name, False)
            await anyio.wait_all_tasks_blocked()
        tg.start_soon(request, "retry", True)
        await anyio.wait_all_tasks_blocked()
        sleep.gate.set()
    assert order == ["first", "retry", "second", "third"]


async def test_cancelled_waiters_never_stall_the_queue() -> None:
    """Cancelling the first in line and a queued waiter lets the others through."""
    limiter, sleep = gated_limiter(limit=10.0)
    limiter.pause(1.0)
    done: list[str] = []

    async def request(name: str) -> None:
        await limiter.acquire()
        done.append(name)

    async with anyio.create_task_group() as tg:
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(request, "head")
            await anyio.wait_all_tasks_blocked()
            doomed.start_soon(request, "queued")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(request, "survivor")
            await anyio.wait_all_tasks_blocked()
            doomed.cancel_scope.cancel()
        sleep.gate.set()
    assert done == ["survivor"]
    assert limiter.waiting == 0


async def test_pause_never_shortens_an_existing_pause() -> None:
    """A shorter pause does not cut a longer one; a longer one extends it."""
    limiter, clock, _ = virtual_limiter()
    limiter.pause(10.0)
    limiter.pause(2.0)
    assert limiter.paused_until == pytest.approx(clock.now + 10.0)
    limiter.pause(20.0)
    assert limiter.paused_until == pytest.approx(clock.now + 20.0)


def test_accepted_answers_are_kept_for_the_window_only() -> None:
    """The limiter keeps the last second of answers (or the last 20), not all of them."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(100):
        clock.now += 0.2
        limiter.accepted()
    assert len(limiter._accepted) == CONTROL.accepted_count


# --- against a simulated server ------------------------------------------------------------


class TokenBucketServer:
    """The sandbox's per-account limit: `rate` per second, `burst` at once, whole-second
    Retry-After."""

    def __init__(self, rate: float, burst: int, clock: FakeClock) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.last = float(burst), clock.now

    def answer(self) -> int | None:
        now = self.clock.now
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))


@pytest.mark.parametrize(
    ("limit", "burst", "min_goodput"),
    [(50.0, 10, 0.9), (30.0, 30, 0.95), (10.0, 10, 0.95), (200.0, 20, 0.85)],
)
async def test_finds_and_holds_an_unknown_limit(
    limit: float, burst: int, min_goodput: float
) -> None:
    """Back-to-back requests for 60 virtual seconds against an unknown token-bucket limit
    get at least `min_goodput` of it through, with under 5% of requests answered 429."""
    limiter, clock, _ = virtual_limiter()
    server = TokenBucketServer(limit, burst, clock)
    rng = random.Random(7)
    end = clock.now + 60.0
    accepted = throttled = 0
    priority = False
    while True:
        ticket = await limiter.acquire(priority=priority)
        if clock.now >= end:
            break
        retry_after = server.answer()
        if retry_after is None:
            accepted += 1
            limiter.accepted()
            priority = False
        else:
            throttled += 1
            limiter.throttled(ticket, retry_after * (1 + 0.1 * rng.random()))
            priority = True
        limiter.done(accepted=False)
    assert accepted / (limit * 60.0) >= min_goodput
    assert throttled / (accepted + throttled) < 0.05


# --- checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"limit": 0}, ("rate_limit",)),
        ({"limit": -1.0}, ("rate_limit",)),
        ({"limit": math.nan}, ("rate_limit",)),
        ({"limit": math.inf}, ("rate_limit",)),
        ({"limit": True}, ("rate_limit",)),
        ({"limit": "50"}, ("rate_limit",)),
        ({"burst": 0}, ("rate_burst",)),
        ({"burst": 1.5}, ("rate_burst",)),
        ({"limit": -1, "burst": 0}, ("rate_limit", "rate_burst")),
        ({"control": {"initial_rate": 5}}, ("rate_control",)),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Bad limits, bursts or controls raise ValidationError naming each field."""
    with pytest.raises(ValidationError) as caught:
        RateLimiter(**kwargs)
    assert caught.value.fields == fields


def test_repr_shows_rate_limit_burst_and_phase() -> None:
    """repr() names the current rate, the ceiling, the burst and the phase."""
    assert repr(RateLimiter(3.0, burst=2)) == (
        "RateLimiter(rate=3, limit=3.0, burst=2, phase='slow start')"
    )


async def test_a_wait_under_a_millisecond_is_not_slept() -> None:
    """A slot due within 1 ms is taken at once (timers are no finer), and still booked."""
    clock = FakeClock()
    sleeps = SleepRecorder()
    limiter = RateLimiter(2500.0, clock=clock, sleep=sleeps)  # a slot every 0.4 ms
    for _ in range(3):
        await limiter.acquire()
    assert sleeps.delays == []  # 0.4 ms and 0.8 ms ahead: not slept
    await limiter.acquire()
    assert sleeps.delays == pytest.approx([0.0012])  # 1.2 ms ahead: slept


@pytest.mark.parametrize(
    ("late", "next_wait"),
    [(0.002, 0.098), (0.004, 0.096), (0.05, 0.1)],
)
async def test_a_slot_taken_a_little_late_keeps_the_cadence(late: float, next_wait: float) -> None:
    """Woken up to 5 ms late, a request keeps its slot's place (the next is not pushed back);
    later than that, the schedule starts afresh from now."""
    clock = FakeClock()
    sleeps = SleepRecorder()
    limiter = RateLimiter(10.0, clock=clock, sleep=sleeps)
    await limiter.acquire()  # slot at 100.0; the next is due at 100.1
    clock.now = 100.1 + late
    await limiter.acquire()
    await limiter.acquire()
    assert sleeps.delays == pytest.approx([next_wait])


# --- one request at a time -----------------------------------------------------------------


async def test_one_request_at_a_time_is_never_spaced_before_a_429() -> None:
    """Sequential calls (each done before the next) go at once: one at a time is no herd."""
    clock = FakeClock()
    sleeps = SleepRecorder()
    limiter = RateLimiter(clock=clock, sleep=sleeps)
    for _ in range(50):
        await limiter.acquire()
        limiter.done(accepted=False)
    assert sleeps.delays == []


async def test_overlapping_requests_are_spaced_even_after_sequential_ones() -> None:
    """Sequential calls do not push the schedule ahead: the first overlap waits one slot."""
    clock = FakeClock()
    sleeps = SleepRecorder()
    limiter = RateLimiter(clock=clock, sleep=sleeps)
    for _ in range(50):
        await limiter.acquire()
        limiter.done(accepted=False)
    await limiter.acquire()  # in flight ...
    await limiter.acquire()  # ... so this one is spaced, 0.1 s after the last
    assert sleeps.delays == pytest.approx([0.1])


@pytest.mark.parametrize(("setting", "spaced"), [("after a 429", 3), ("with a ceiling", 2)])
async def test_one_request_at_a_time_is_spaced_once_the_limit_matters(
    setting: str, spaced: int
) -> None:
    """After an account 429, or under a rate_limit ceiling, sequential calls are spaced too."""
    clock = FakeClock()
    sleeps = SleepRecorder()
    limiter = RateLimiter(10.0 if setting == "with a ceiling" else None, clock=clock, sleep=sleeps)
    if setting == "after a 429":
        ticket = await limiter.acquire()
        limiter.throttled(ticket, 0.0)
        limiter.done(accepted=False)
    for _ in range(3):
        await limiter.acquire()
        limiter.done(accepted=False)
    assert len(sleeps.delays) == spaced
