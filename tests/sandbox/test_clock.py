"""The sandbox clocks satisfy the watcher's Clock protocol (now and sleep)."""

from __future__ import annotations

import time

import anyio
import pytest

from wamanager._clock import Clock
from wamanager.sandbox import ManualClock, SandboxClock, ScaledClock


@pytest.mark.parametrize("clock", [ManualClock(), ScaledClock(10)], ids=["manual", "scaled"])
def test_sandbox_clocks_are_clocks(clock: object) -> None:
    """Both clocks are wamanager.Clock and SandboxClock."""
    assert isinstance(clock, Clock)
    assert isinstance(clock, SandboxClock)


async def test_scaled_sleep_takes_seconds_divided_by_speed() -> None:
    """ScaledClock(1000).sleep(20) sleeps 20 ms of real time, and 20 sandbox seconds pass."""
    clock = ScaledClock(1000)
    started, sandbox_started = time.monotonic(), clock.now()
    await clock.sleep(20)
    assert 0.015 <= time.monotonic() - started < 1.0
    assert clock.now() - sandbox_started >= 19.0


@pytest.mark.parametrize("seconds", [0, -5])
async def test_scaled_sleep_of_zero_or_less_returns_at_once(seconds: float) -> None:
    """A zero or negative sleep is a checkpoint only."""
    started = time.monotonic()
    await ScaledClock(1).sleep(seconds)
    assert time.monotonic() - started < 0.05


async def test_manual_sleep_waits_for_advance() -> None:
    """ManualClock.sleep returns once advance() has reached its deadline, not before."""
    clock = ManualClock()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, 10)
        tg.start_soon(sleeper, 30)
        await anyio.wait_all_tasks_blocked()
        assert clock.sleepers == 2
        clock.advance(9)
        await anyio.wait_all_tasks_blocked()
        assert woke == []
        clock.advance(1)  # the first deadline, exactly
        await anyio.wait_all_tasks_blocked()
        assert woke == [10]
        clock.advance(100)  # past the second
    assert woke == [10, 110]
    assert clock.sleepers == 0


@pytest.mark.parametrize("seconds", [0, -1])
async def test_manual_sleep_of_zero_or_less_returns_at_once_as_a_checkpoint(
    seconds: float,
) -> None:
    """A zero or negative sleep needs no advance, but still lets other tasks run."""
    clock = ManualClock()
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        await clock.sleep(seconds)
        assert ran == ["other"]


async def test_a_cancelled_manual_sleep_is_forgotten() -> None:
    """Cancelling a sleep removes it; a later advance wakes nobody by mistake."""
    clock = ManualClock()
    with anyio.move_on_after(0.01):
        await clock.sleep(5)
    assert clock.sleepers == 0
    clock.advance(10)


def test_manual_clock_never_goes_backward() -> None:
    """advance() with a negative amount raises ValueError."""
    with pytest.raises(ValueError, match="backward"):
        ManualClock().advance(-1)
