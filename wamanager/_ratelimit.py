"""Adaptive client-side rate control, shared by every request a client makes.

Users rarely know their account's rate limit, so the client learns it from the 429s the API
answers. Ideas from botocore's adaptive retry mode (a token bucket whose rate a CUBIC
calculator moves) and from TCP congestion control, with three changes:

* **A gentle start.** Concurrent requests start at :data:`~wamanager._constants.INITIAL_RATE`
  (10/s), spaced, never as a herd. While requests queue and no 429 has come, the rate doubles
  every :data:`~wamanager._constants.DOUBLING_TIME` seconds (slow start). Until the first 429
  a request with no other in flight is not spaced at all: one at a time is no herd, and a
  caller that awaits each answer is already held back by the answers.
* **A decrease to what the server accepted.** On an account 429 the rate drops to
  ``DECREASE_FACTOR`` (0.9) times the rate of accepted (non-429) answers over the last second
  (or the last 20 answers, at low rates) — :func:`accepted_rate` — not to a fraction of
  whatever the client was attempting; halved when too little was seen to measure. 429s
  answered to requests sent before that decrease do not decrease it again.
* **A plateau, then gentle probing.** The rate then grows back along a cubic curve
  (:func:`cubic_rate`) that flattens as it reaches the estimate and only then probes past it,
  slowly at first. The climb takes ``SHORT_RECOVERY`` (5 s) after a new estimate and
  ``LONG_RECOVERY`` (60 s) once two 429s in a row agree on it (within 25%), so a client that
  has found the limit stays just below it and rarely touches it.

The rate only grows while requests are actually queued at it: an idle client does not build
up a rate it has never tried. A 429 also pauses every request for the server's (jittered,
capped) ``Retry-After``; when the pause ends, the waiting requests are released one slot at a
time at the learned rate (the retried ones first), never all at once. ``limit`` (the
client's ``rate_limit=``) is a ceiling the learned rate never exceeds; when given, the rate
starts there instead of at 10/s. Asyncio's timers are coarse (a millisecond), so a wait
shorter than ``MIN_SLEEP`` is not slept and a slot taken up to ``CATCH_UP`` (5 ms) late keeps
its place in the schedule: without that, late wake-ups cost a few percent of the rate.

Measured against the sandbox limited to 50 requests/s (burst 10, whole-second
``Retry-After``): 100 tasks of back-to-back calls from a default client get 0.91 of the limit
over 30 s, with 0.14% of the requests answered 429 (``benchmarks/ratelimit.py``); a
deterministic version of that run on a virtual clock is a unit test.

Every decision is a pure function of its inputs (:func:`slow_start_rate`,
:func:`cubic_rate`, :func:`accepted_rate`, :func:`rate_after_throttle`,
:func:`is_fresh_throttle`), tested as tables; :class:`RateLimiter` only keeps the state and
sleeps.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import attrs

from . import _constants as const
from ._errors import ValidationError

__all__ = [
    "Phase",
    "RateControl",
    "RateDecrease",
    "RateLimiter",
    "accepted_rate",
    "cubic_rate",
    "is_fresh_throttle",
    "rate_after_throttle",
    "slow_start_rate",
]


class Phase(enum.Enum):
    """Where the rate control is: finding the limit, or holding it."""

    #: No 429 yet: the rate doubles every ``doubling_time`` seconds of queueing.
    SLOW_START = "slow start"
    #: After a 429: the rate follows the cubic curve around the estimated limit.
    AVOIDANCE = "avoidance"


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        reason = f"must be a number, not {type(value).__name__}"
    elif not (math.isfinite(value) and value > 0):
        reason = f"must be a finite number > 0, not {value!r}"
    else:
        return
    raise ValidationError([(attribute.name, reason)], model=type(instance).__name__)


def _whole(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            [(attribute.name, "must be an int of at least 1")], model=type(instance).__name__
        )


def _fraction(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _positive(instance, attribute, value)
    if value >= 1:  # type: ignore[operator]
        raise ValidationError(
            [(attribute.name, f"must be below 1, not {value!r}")], model=type(instance).__name__
        )


@attrs.frozen
class RateControl:
    """The constants of adaptive rate control (defaults in :mod:`wamanager._constants`).

    Rates are requests per second, times are seconds. Frozen; change with ``attrs.evolve``.
    Bad values raise :class:`~wamanager.ValidationError` naming the field.
    """

    initial_rate: float = attrs.field(default=const.INITIAL_RATE, validator=_positive)
    min_rate: float = attrs.field(default=const.MIN_RATE, validator=_positive)
    max_rate: float = attrs.field(default=const.MAX_RATE, validator=_positive)
    doubling_time: float = attrs.field(default=const.DOUBLING_TIME, validator=_positive)
    decrease_factor: float = attrs.field(default=const.DECREASE_FACTOR, validator=_fraction)
    accepted_window: float = attrs.field(default=const.ACCEPTED_WINDOW, validator=_positive)
    accepted_count: int = attrs.field(default=const.ACCEPTED_COUNT, validator=_whole)
    min_accepted_window: float = attrs.field(default=const.MIN_ACCEPTED_WINDOW, validator=_positive)
    short_recovery: float = attrs.field(default=const.SHORT_RECOVERY, validator=_positive)
    long_recovery: float = attrs.field(default=const.LONG_RECOVERY, validator=_positive)
    agreement: float = attrs.field(default=const.AGREEMENT, validator=_fraction)
    max_growth_step: float = attrs.field(default=const.MAX_GROWTH_STEP, validator=_positive)


@attrs.frozen
class RateDecrease:
    """What a 429 changes: the new ``rate``, the ``estimate`` of the limit the cubic curve
    climbs back to, and the ``recovery`` time it takes to get there. ``estimate`` is
    ``None`` when too little was seen to measure one: the rate is then only cut, and the
    limiter goes on as before (slow start doubling, or the cubic curve it was on)."""

    rate: float
    estimate: float | None
    recovery: float


# --- the decisions, as pure functions ------------------------------------------------------


def slow_start_rate(rate: float, busy: float, doubling_time: float) -> float:
    """The rate after ``busy`` seconds of queueing in slow start: doubled every
    ``doubling_time`` seconds."""
    return rate * math.pow(2.0, busy / doubling_time)


def cubic_rate(estimate: float, since: float, recovery: float, decrease_factor: float) -> float:
    """The rate ``since`` seconds of queueing after a decrease, on the cubic curve.

    The curve starts at ``decrease_factor * estimate``, flattens to reach ``estimate`` after
    ``recovery`` seconds, and then grows past it, slowly at first (CUBIC's shape, scaled to
    the estimate so that a small limit and a large one are probed alike).
    """
    scale = (1.0 - decrease_factor) / recovery**3
    return estimate * (1.0 + scale * (since - recovery) ** 3)


def accepted_rate(
    times: Sequence[float],
    *,
    now: float,
    since: float,
    window: float,
    count: int,
    min_window: float,
) -> float | None:
    """Accepted answers per second: over the last ``window`` seconds or, if longer, over
    the last ``count`` answers; never counting before ``since`` (the end of the last pause,
    when nothing could be sent).

    ``times`` are the arrival times of accepted (non-429) answers, oldest first. Returns
    ``None`` when the measured span is shorter than ``min_window``: too short to say anything.
    """
    start = now - window
    if len(times) >= count and times[-count] < start:
        start = times[-count]
    start = max(start, since)
    span = now - start
    if span < min_window:
        return None
    return sum(1 for t in times if start <= t <= now) / span


def rate_after_throttle(
    *,
    rate: float,
    accepted: float | None,
    recent: int,
    previous: float | None,
    control: RateControl,
) -> RateDecrease:
    """The rate after an account 429.

    The limit is estimated as the accepted rate (no more than ``rate``, the rate the client
    was allowing), and the rate drops to ``decrease_factor`` times it. When the estimate
    agrees with the ``previous`` one (within ``agreement``), the limit is known: the recovery
    is long; otherwise short.

    When the accepted rate could not be measured (``accepted`` is ``None``: the 429 came
    right after the first requests, or right after a pause), the rate is halved, but not
    below the ``recent`` answers accepted over the last window per second — the server did
    take those. Before any estimate (``previous`` is ``None``: slow start) that cut is all
    (``estimate`` is ``None``: slow start goes on from there); after one, the cut is the
    new estimate.
    """
    if accepted is None:
        cut = min(rate, max(rate / 2, recent / control.accepted_window, control.min_rate))
        if previous is None:
            return RateDecrease(rate=cut, estimate=None, recovery=control.short_recovery)
        accepted = cut
    estimate = max(min(rate, accepted), control.min_rate)
    agrees = previous is not None and abs(estimate - previous) <= control.agreement * previous
    return RateDecrease(
        rate=max(control.min_rate, control.decrease_factor * estimate),
        estimate=estimate,
        recovery=control.long_recovery if agrees else control.short_recovery,
    )


def is_fresh_throttle(ticket: int, last_decrease_ticket: int) -> bool:
    """Whether a 429 to the request released as ``ticket`` should lower the rate.

    Requests released before the last decrease were sent at the old rate: their 429s say
    nothing new (they would otherwise cut the rate once per request in flight).
    """
    return ticket > last_decrease_ticket


# --- the limiter: state and sleeping -------------------------------------------------------


class RateLimiter:
    """Spaces every request of a client at a learned rate, and waits out 429s.

    Waiters are served in arrival order (retries after a 429 first): the first in line sleeps
    until its slot, then hands over to the next, so changes (a pause, a lower rate) also
    apply to requests already waiting. No lock is held while sleeping and no background task
    is started.

    Args:
        limit: a ceiling in requests per second (``None``: none). The rate starts there when
            given, else at ``control.initial_rate``.
        burst: requests that may go at once before the rate spaces them.
        control: the rate-control constants (:class:`RateControl`).
        clock: a monotonic clock in seconds; ``sleep``: how to wait (inject fakes in tests).

    Raises :class:`~wamanager.ValidationError` for a ``limit`` that is not a positive
    number or a ``burst`` that is not an int of at least 1.
    """

    def __init__(
        self,
        limit: float | None = None,
        *,
        burst: int = 1,
        control: RateControl | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        problems = []
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, (int, float))
            or not (math.isfinite(limit) and limit > 0)
        ):
            problems.append(("rate_limit", "must be a finite number > 0, or None to learn it"))
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            problems.append(("rate_burst", "must be an int of at least 1"))
        if control is not None and not isinstance(control, RateControl):
            problems.append(("rate_control", "must be a RateControl"))
        if problems:
            raise ValidationError(problems, model="RateLimiter")
        self.limit = None if limit is None else float(limit)
        self.burst = burst
        self.control = control or RateControl()
        self._clock = clock
        self._sleep = sleep
        self._ceiling = self.control.max_rate if self.limit is None else self.limit
        self._set_rate(self.control.initial_rate if limit is None else self._ceiling)
        self._phase = Phase.SLOW_START
        self._estimate: float | None = None
        self._recovery = self.control.short_recovery
        self._busy = 0.0  # seconds of queueing since the last decrease
        self._last_growth = clock()
        # GCRA: the theoretical arrival time of the next request.
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._active_since = -math.inf
        self._accepted: deque[float] = deque()
        self._issued = 0  # tickets handed out
        self._in_flight = 0  # released, not yet done
        self._throttled = False  # any account 429 yet?
        self._decreased_at_ticket = 0
        self._generation = 0  # bumped by every pause, so a sleeping head re-checks
        self._head: anyio.Event | None = None
        self._queue: deque[anyio.Event] = deque()

    def _set_rate(self, rate: float) -> None:
        """Set the rate (within [min_rate, ceiling]) and what is derived from it."""
        self._rate = min(max(rate, self.control.min_rate), self._ceiling)
        self._interval = 1.0 / self._rate
        self._tolerance = (self.burst - 1) * self._interval

    # --- what it knows ------------------------------------------------------------------

    @property
    def rate(self) -> float:
        """The current rate, in requests per second."""
        return self._rate

    @property
    def phase(self) -> Phase:
        """Slow start until the first account 429, avoidance after."""
        return self._phase

    @property
    def estimate(self) -> float | None:
        """The limit learned from the last 429 (``None`` before any)."""
        return self._estimate

    @property
    def paused_until(self) -> float:
        """The clock time until which no request is released (past: not paused)."""
        return self._paused_until

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return len(self._queue) + (self._head is not None)

    def __repr__(self) -> str:
        return (
            f"RateLimiter(rate={self._rate:.4g}, limit={self.limit}, burst={self.burst}, "
            f"phase={self._phase.value!r})"
        )

    # --- taking slots -------------------------------------------------------------------

    def _due(self) -> float:
        return max(self._paused_until, self._tat - self._tolerance)

    def _take(self, due: float, now: float) -> int:
        """Take the slot due at ``due`` after queueing for it (``now`` may be earlier with a
        fake sleep: the slot is still ``due``)."""
        self._grow(now)
        slot = max(now, due)
        if not self._issued:
            self._active_since = slot  # the first request: nothing was accepted before it
        tat = self._tat
        # Late by a little (a coarse timer): keep the cadence; idle or paused: start afresh.
        self._tat = (tat if tat >= slot - const.CATCH_UP else slot) + self._interval
        self._issued += 1
        self._in_flight += 1
        return self._issued

    def _alone(self) -> bool:
        """Whether a request may skip the spacing: no other request is in flight, no 429 has
        come yet and no ceiling is set. One request at a time is never a herd, and a caller
        that waits for each answer is held back by the answers, not by an initial rate it
        has not outgrown yet."""
        return self._in_flight == 0 and not self._throttled and self.limit is None

    def _grow(self, now: float) -> None:
        busy = min(max(now - self._last_growth, 0.0), self.control.max_growth_step)
        self._last_growth = max(now, self._last_growth)
        if busy <= 0.0:
            return
        control = self.control
        if self._phase is Phase.SLOW_START:
            rate = slow_start_rate(self._rate, busy, control.doubling_time)
        else:
            assert self._estimate is not None
            self._busy += busy
            rate = cubic_rate(self._estimate, self._busy, self._recovery, control.decrease_factor)
        self._set_rate(rate)

    def try_acquire(self) -> int | None:
        """Take a slot if one is free now and nobody waits (a ticket), else ``None``.

        The fast path of :meth:`acquire`, without a coroutine.
        """
        if self._head is None and not self._queue:
            now = self._clock()
            due = self._tat - self._tolerance
            if (due <= now or self._alone()) and self._paused_until <= now:
                if now > self._last_growth:
                    self._last_growth = now  # time without a queue is not growth
                if not self._issued:
                    self._active_since = now
                tat = self._tat
                # Sent alone ahead of the schedule, or after idle time: the schedule starts
                # afresh. A little late (a coarse timer): it keeps its cadence.
                if due > now or tat < now - const.CATCH_UP:
                    tat = now
                self._tat = tat + self._interval
                self._issued += 1
                self._in_flight += 1
                return self._issued
            if due - now <= const.MIN_SLEEP and self._paused_until <= now:
                # Due within a millisecond: not worth a sleep, but the request did queue
                # (so it counts towards growth).
                return self._take(due, now)
        return None

    async def acquire(self, *, priority: bool = False) -> int:
        """Wait for a slot; returns the request's ticket (pass it to :meth:`throttled`).

        ``priority`` puts the caller ahead of the other waiters (a retry after a 429).
        """
        ticket = self.try_acquire()
        if ticket is not None:
            return ticket
        turn = anyio.Event()
        if self._head is None and not self._queue:
            self._head = turn
        else:
            if priority:
                self._queue.appendleft(turn)
            else:
                self._queue.append(turn)
            try:
                await turn.wait()
            except BaseException:
                if turn in self._queue:
                    self._queue.remove(turn)
                elif self._head is turn:  # made head, then cancelled before running
                    self._hand_over()
                raise
        try:
            while True:
                generation = self._generation
                due = self._due()
                now = self._clock()
                if due - now > const.MIN_SLEEP:
                    await self._sleep(due - now)
                    if generation != self._generation:
                        continue  # paused while asleep: look again
                    now = self._clock()
                return self._take(due, now)
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        self._head = self._queue.popleft() if self._queue else None
        if self._head is not None:
            self._head.set()

    # --- what the answers say -----------------------------------------------------------

    def done(self, *, accepted: bool) -> None:
        """A released request is over: answered (``accepted``: with anything but a 429), or
        throttled, failed or cancelled."""
        self._in_flight -= 1
        if accepted:
            self.accepted()

    def accepted(self) -> None:
        """Count an answer the server accepted (any status but 429)."""
        now = self._clock()
        times = self._accepted
        times.append(now)
        horizon = now - self.control.accepted_window
        while times[0] < horizon and len(times) > self.control.accepted_count:
            times.popleft()

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (never shortens an existing pause)."""
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self._generation += 1
        # Time spent paused is not time spent queueing at the rate: it does not grow it.
        self._last_growth = max(self._last_growth, self._paused_until)

    def throttled(self, ticket: int, wait: float) -> None:
        """An account 429 answered the request released as ``ticket``: pause every request
        for ``wait`` seconds and, if the 429 is fresh, lower the rate."""
        self.pause(wait)
        self._throttled = True
        if is_fresh_throttle(ticket, self._decreased_at_ticket):
            now = self._clock()
            control = self.control
            times = self._accepted
            measured = accepted_rate(
                times,
                now=now,
                since=self._active_since,
                window=control.accepted_window,
                count=control.accepted_count,
                min_window=control.min_accepted_window,
            )
            horizon = now - control.accepted_window
            decrease = rate_after_throttle(
                rate=self._rate,
                accepted=measured,
                recent=sum(1 for t in times if t >= horizon),
                previous=self._estimate,
                control=control,
            )
            self._set_rate(decrease.rate)
            if decrease.estimate is not None:
                self._estimate = min(decrease.estimate, self._ceiling)
                self._recovery = decrease.recovery
                self._phase = Phase.AVOIDANCE
                self._busy = 0.0
            self._decreased_at_ticket = self._issued
        self._active_since = self._paused_until
