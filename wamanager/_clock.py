"""Time as the watcher and ``provision()`` see it: ``now()`` and ``sleep()``, injectable.

Every wait of a watch (the next poll, the resend timer, the deadline) is measured on a
:class:`Clock`. The default, :data:`SYSTEM_CLOCK`, is wall-clock time (``time.time()``), so the
timestamps an :class:`~wamanager.OTPProgress` records stay meaningful after a restart. A
sandbox clock (``sandbox.clock``) satisfies the same protocol, so a watcher can run on
*sandbox* seconds: ``resend_after=300`` then means 300 sandbox seconds, half a real second at
speed 600. Tests inject their own clock and never wait for real time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Protocol, TypeVar, runtime_checkable

import anyio

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "utc_now", "within"]

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    """A source of time and a way to wait for it to pass."""

    def now(self) -> float:
        """The current time, in seconds (any fixed origin)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` of this clock's time have passed."""
        ...


class SystemClock:
    """Real time: ``now()`` is ``time.time()``, ``sleep()`` is the event loop's sleep."""

    __slots__ = ()

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` real seconds (no-op for zero or less, but still a checkpoint)."""
        await anyio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


#: The clock used when none is given.
SYSTEM_CLOCK = SystemClock()


def utc_now() -> datetime:
    """The wall-clock time, in UTC: the ``at`` of every event a watch or a bulk run reports."""
    return datetime.now(timezone.utc)


async def within(clock: Clock, seconds: float, work: Callable[[], Awaitable[T]]) -> T | None:
    """What ``work()`` returns, or ``None`` if ``seconds`` of ``clock`` pass first (``work``
    is then cancelled). What ``work`` raises is raised. ``work`` must not return ``None``.
    """
    if isinstance(clock, SystemClock):
        # Real time: the event loop's own timer does it, with no task of its own.
        with anyio.move_on_after(seconds):
            return await work()
        return None
    outcome: list[T | Exception] = []
    async with anyio.create_task_group() as group:

        async def body() -> None:
            try:
                outcome.append(await work())
            except Exception as exc:
                outcome.append(exc)
            finally:
                group.cancel_scope.cancel()

        async def timer() -> None:
            await clock.sleep(seconds)
            group.cancel_scope.cancel()

        group.start_soon(body)
        group.start_soon(timer)
    if not outcome:
        return None
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]
