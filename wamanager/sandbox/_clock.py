"""Sandbox time: seconds of simulated time, driven by a speed factor or by hand.

Both clocks satisfy :class:`wamanager.Clock` (``now()`` and ``async sleep()``), so a
watcher can run on sandbox time: pass ``clock=sandbox.clock`` and its waits shrink with the
sandbox's ``speed``, or, on a :class:`ManualClock`, last until a test moves time forward.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel

__all__ = ["ManualClock", "SandboxClock", "ScaledClock"]


@runtime_checkable
class SandboxClock(Protocol):
    """A source of sandbox time, and a way to wait for it to pass.

    ``now()`` is in *sandbox* seconds (what stage durations and the resend cooldown are
    measured in); ``speed`` is how many sandbox seconds pass per real second, so
    ``now() / speed`` is real time (what the rate limit and ``Retry-After`` use).
    """

    @property
    def speed(self) -> float:
        """Sandbox seconds per real second."""
        ...

    def now(self) -> float:
        """Sandbox seconds since the clock started."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` sandbox seconds have passed."""
        ...


class ScaledClock:
    """Real monotonic time multiplied by ``speed`` (``speed=60``: a sandbox minute per second)."""

    def __init__(self, speed: float = 1.0, *, monotonic: Callable[[], float] = time.monotonic):
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self._speed = float(speed)
        self._monotonic = monotonic
        self._start = monotonic()

    @property
    def speed(self) -> float:
        """Sandbox seconds per real second."""
        return self._speed

    def now(self) -> float:
        """Sandbox seconds since the clock was made."""
        return (self._monotonic() - self._start) * self._speed

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` sandbox seconds: ``seconds / speed`` real ones (zero or less: a
        checkpoint only)."""
        await anyio.sleep(max(seconds, 0.0) / self._speed)

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self._speed})"


class ManualClock:
    """A clock that moves only when told to (:meth:`advance`): for tests that never sleep.

    :meth:`sleep` returns once :meth:`advance` has moved the clock to its deadline.
    ``speed`` only converts sandbox time to the "real" seconds the rate limit counts in.
    """

    def __init__(self, start: float = 0.0, *, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self._now = float(start)
        self._speed = float(speed)
        # (deadline, tie-breaker, event) of every pending sleep, earliest first.
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    @property
    def speed(self) -> float:
        """Sandbox seconds per (simulated) real second."""
        return self._speed

    def now(self) -> float:
        """The current sandbox time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` sandbox seconds (never backward); wakes the
        sleepers whose deadline has come. Call it from the event loop's thread."""
        if seconds < 0:
            raise ValueError("a clock cannot go backward")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            heapq.heappop(self._sleepers)[2].set()

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has been advanced by ``seconds`` (zero or less: at once, but
        still a checkpoint)."""
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        entry = (self._now + seconds, next(self._order), anyio.Event())
        heapq.heappush(self._sleepers, entry)
        try:
            await entry[2].wait()
        finally:
            if not entry[2].is_set():  # cancelled: forget this sleeper
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for :meth:`advance`."""
        return len(self._sleepers)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now}, speed={self._speed})"
