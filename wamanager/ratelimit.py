"""A client-side rate limiter shared by every request a client makes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio

__all__ = ["RateLimiter"]


class RateLimiter:
    """Spaces requests to at most ``rate`` per second, with bursts of up to ``burst``.

    This is a generic cell rate algorithm: each caller reserves the next free slot and sleeps
    until it, so waiters are served in arrival order and no lock is held while sleeping.
    ``rate=None`` disables the limit (only :meth:`pause` then delays requests).

    :meth:`pause` holds *every* request until a time, which is what a 429 with
    ``Retry-After`` asks of the whole client, not only of the request that got it.
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive, or None for no limit")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._next_free = 0.0  # theoretical arrival time of the next request
        self._paused_until = 0.0

    def reserve(self) -> float:
        """Claim the next slot and return how many seconds the caller must wait for it."""
        now = self._clock()
        start = max(now, self._paused_until)
        if self.rate is None:
            return start - now
        interval = 1.0 / self.rate
        tolerance = interval * (self.burst - 1)
        arrival = max(self._next_free, start)
        allowed_at = max(arrival - tolerance, start)
        self._next_free = arrival + interval
        return allowed_at - now

    async def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)
        return max(wait, 0.0)

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (never shortens an existing pause)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate}, burst={self.burst})"
