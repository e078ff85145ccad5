"""The client-side rate limiter (GCRA), driven by a fake clock and a recording sleep."""

from __future__ import annotations

import pytest

from wamanager import RateLimiter

from ._support import SleepRecorder


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("rate", "burst", "steps", "expected"),
    [
        # (time of each reserve(), the wait it returns)
        (2.0, 1, [0, 0, 0, 0], [0.0, 0.5, 1.0, 1.5]),
        (1.0, 3, [0, 0, 0, 0, 0], [0.0, 0.0, 0.0, 1.0, 2.0]),
        (1.0, 1, [0, 1, 2, 3], [0.0, 0.0, 0.0, 0.0]),  # spaced already: no waits
        (1.0, 1, [0, 0.25, 0.5], [0.0, 0.75, 1.5]),
        (1.0, 1, [0, 10, 10], [0.0, 0.0, 1.0]),  # idle time does not bank more than burst
        (1.0, 2, [0, 10, 10, 10], [0.0, 0.0, 0.0, 1.0]),
        (4.0, 2, [0, 0, 0, 0.5, 0.5], [0.0, 0.0, 0.25, 0.0, 0.25]),
        (None, 1, [0, 0, 0], [0.0, 0.0, 0.0]),  # no limit
    ],
)
def test_reserve_table(
    rate: float | None, burst: int, steps: list[float], expected: list[float]
) -> None:
    """reserve() hands out slots rate per second with bursts of burst, in arrival order."""
    clock = FakeClock()
    limiter = RateLimiter(rate, burst=burst, clock=clock)
    start = clock.now
    waits = []
    for at in steps:
        clock.now = start + at
        waits.append(limiter.reserve())
    assert waits == pytest.approx(expected)


def test_pause_holds_every_request_until_its_end() -> None:
    """pause(s) makes every reservation wait until s from now, with or without a rate."""
    clock = FakeClock()
    for rate in (None, 10.0):
        limiter = RateLimiter(rate, clock=clock)
        limiter.pause(5.0)
        assert limiter.reserve() == pytest.approx(5.0)
        clock.now += 2
        assert limiter.reserve() >= 3.0 - 1e-9
        clock.now += 10
        assert limiter.reserve() == 0.0


def test_rate_resumes_after_a_pause() -> None:
    """After a pause the rate spaces requests from the pause's end."""
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock)
    limiter.pause(3.0)
    assert [limiter.reserve() for _ in range(3)] == pytest.approx([3.0, 3.5, 4.0])


def test_pause_never_shortens_an_existing_pause() -> None:
    """A shorter pause does not cut a longer one; a longer one extends it."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.pause(10.0)
    limiter.pause(2.0)
    assert limiter.reserve() == pytest.approx(10.0)
    limiter.pause(20.0)
    assert limiter.reserve() == pytest.approx(20.0)


async def test_acquire_sleeps_the_reserved_wait() -> None:
    """acquire() sleeps (through the injected sleep) only when a wait is due, and returns it."""
    clock = FakeClock()
    sleeps = SleepRecorder()
    limiter = RateLimiter(2.0, clock=clock, sleep=sleeps)
    assert await limiter.acquire() == 0.0
    assert await limiter.acquire() == pytest.approx(0.5)
    assert sleeps.delays == pytest.approx([0.5])


@pytest.mark.parametrize(
    ("rate", "burst", "match"),
    [(0, 1, "rate"), (-1.0, 1, "rate"), (1.0, 0, "burst")],
)
def test_bad_settings_are_rejected(rate: float, burst: int, match: str) -> None:
    """A non-positive rate or a burst below 1 raises ValueError."""
    with pytest.raises(ValueError, match=match):
        RateLimiter(rate, burst=burst)


def test_repr_shows_settings() -> None:
    """repr() names rate and burst."""
    assert repr(RateLimiter(3.0, burst=2)) == "RateLimiter(rate=3.0, burst=2)"
