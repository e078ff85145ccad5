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
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


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
