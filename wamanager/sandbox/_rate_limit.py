"""The per-account rate limit: a token bucket per account, counted in real seconds.

Not the client's :class:`~wamanager.RateLimiter` (which learns an unknown limit and paces
requests): this is the server side, which answers 429 past a fixed limit.
"""

from __future__ import annotations

import math

from ._clock import SandboxClock

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """A token bucket per account: ``rate`` requests per real second, ``burst`` at once.

    Real seconds are the clock's sandbox seconds divided by its speed, so a
    :class:`~wamanager.sandbox.ManualClock` controls the buckets in tests.
    """

    def __init__(self, rate: float, burst: int, clock: SandboxClock) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def reset(self) -> None:
        """Refill every account's bucket."""
        self._buckets.clear()

    def _real_now(self) -> float:
        return self._clock.now() / self._clock.speed

    def take(self, account: str) -> int | None:
        """Take a token for ``account``: ``None`` when there was one, else the whole real
        seconds until there is (what ``Retry-After`` says). Never waits."""
        now = self._real_now()
        tokens, last = self._buckets.get(account, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= 1.0:
            self._buckets[account] = (tokens - 1.0, now)
            return None
        self._buckets[account] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self._rate))
