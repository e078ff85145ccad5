"""Sandbox time: seconds of simulated time, driven by a speed factor or by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["ManualClock", "SandboxClock", "ScaledClock"]


@runtime_checkable
class SandboxClock(Protocol):
    """A source of sandbox time.

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

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self._speed})"


class ManualClock:
    """A clock that moves only when told to (:meth:`advance`): for tests that never sleep.

    ``speed`` only converts sandbox time to the "real" seconds the rate limit counts in.
    """

    def __init__(self, start: float = 0.0, *, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self._now = float(start)
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        """Sandbox seconds per (simulated) real second."""
        return self._speed

    def now(self) -> float:
        """The current sandbox time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` sandbox seconds (never backward)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backward")
        self._now += seconds

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now}, speed={self._speed})"
