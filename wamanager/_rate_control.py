"""Adaptive rate control as data and pure functions: what :class:`~wamanager.RateLimiter` decides.

Users rarely know their account's rate limit, so the client learns it from the 429s the API
answers. Ideas from botocore's adaptive retry mode (a token bucket whose rate a CUBIC
calculator moves) and from TCP congestion control, with three changes:

* **A gentle start.** Concurrent requests start at :data:`~wamanager._constants.INITIAL_RATE`
  (10/s), spaced, never as a herd. While requests queue and no 429 has come, the rate doubles
  every :data:`~wamanager._constants.DOUBLING_TIME` seconds (slow start,
  :func:`slow_start_rate`). Until the first 429 a request with no other in flight is not
  spaced at all: one at a time is no herd, and a caller that awaits each answer is already
  held back by the answers.
* **A decrease to what the server accepted.** On an account 429 the rate drops to
  ``DECREASE_FACTOR`` (0.9) times the rate of accepted (non-429) answers over the last second
  (or the last 20 answers, at low rates) — :func:`accepted_rate`, :func:`rate_after_throttle`
  — not to a fraction of whatever the client was attempting; halved when too little was seen
  to measure. 429s answered to requests sent before that decrease do not decrease it again
  (:func:`is_fresh_throttle`).
* **A plateau, then gentle probing.** The rate then grows back along a cubic curve
  (:func:`cubic_rate`) that flattens as it reaches the estimate and only then probes past it,
  slowly at first. The climb takes ``SHORT_RECOVERY`` (5 s) after a new estimate and
  ``LONG_RECOVERY`` (60 s) once two 429s in a row agree on it (within 25%), so a client that
  has found the limit stays just below it and rarely touches it.

Every decision here is a pure function of its inputs, tested as a table; the limiter
(:mod:`wamanager._ratelimit`) keeps the state and sleeps.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import attrs

from . import _constants as const
from ._checks import count_problem, positive_problem, validator

__all__ = [
    "Phase",
    "RateControl",
    "RateDecrease",
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


def _fraction_problem(value: object) -> str | None:
    reason = positive_problem(value)
    if reason is None and value >= 1:  # type: ignore[operator]
        reason = f"must be below 1, not {value!r}"
    return reason


_positive = validator(positive_problem)
_whole = validator(lambda value: count_problem(value, 1))
_fraction = validator(_fraction_problem)


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
