"""Adaptive rate control as data and pure functions: what :class:`~wamanager.RateLimiter` decides.

Users rarely know their account's rate limit, so the client learns it from the 429s the API
answers. Ideas from botocore's adaptive retry mode (a token bucket whose rate a CUBIC
calculator moves) and from TCP congestion control, with four changes:

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
* **Noise is not a limit.** A proxy, a flaky gateway or a fault injector may answer 429 at
  random, whatever the rate; taken each for the account's limit, they cut the rate again
  and again, down to its floor. A real limit and noise differ in one observable way: below
  a real limit the 429s stop (and each cut still above it lowers their share), while noise
  keeps its share at any rate. So every cut is an experiment (:func:`cut_verdict`): if the
  429s persist over the answers after it, the rate is cut once more, and if their share
  did not fall by half after that second cut either, both cuts are undone — back to the
  rate before the first — and the 429s are noise. From then on the noise level is the
  median share of 429s over the last blocks of answers (:func:`noise_level`; it falls as
  they stop), and a 429 is noise — no cut, no pause of the other requests: the throttled
  request alone waits its ``Retry-After`` before its retry — while the 429s among the last
  ``noise_window`` (100) answers are no more than that level explains, at any rate
  (:func:`is_noise`, :func:`allowed_throttles`). A second client on the same account, or a
  limit lowered by the server, sends them well above it: that cuts as before. Before any
  noise is known, a 429 cuts as it always did, unless the rate is well below a limit found
  earlier and at most ``noise_tolerance`` (5%) of the last 100 answers were 429s.

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
    "Verdict",
    "accepted_rate",
    "allowed_throttles",
    "cubic_rate",
    "cut_verdict",
    "is_fresh_throttle",
    "is_noise",
    "noise_level",
    "rate_after_throttle",
    "slow_start_rate",
]


class Phase(enum.Enum):
    """Where the rate control is: finding the limit, or holding it."""

    #: No 429 yet: the rate doubles every ``doubling_time`` seconds of queueing.
    SLOW_START = "slow start"
    #: After a 429: the rate follows the cubic curve around the estimated limit.
    AVOIDANCE = "avoidance"


class Verdict(enum.Enum):
    """What the answers after a cut say about it (:func:`cut_verdict`)."""

    #: Too few answers since the cut to say.
    WAIT = "wait"
    #: The 429s fell: the cut found a limit, and stays.
    KEEP = "keep"
    #: They did not fall: noise, or a cut that stayed above the limit (an estimate measured
    #: too high, a burst). Cut again, a little deeper (``CONFIRM_FACTOR``): below a limit
    #: they stop, and each cut above it lowers them.
    CONFIRM = "confirm"
    #: Their share did not fall by half after that second cut either: noise. The rate goes
    #: back to where it was before the first cut.
    UNDO = "undo"
    #: They rose: the cut was real but not deep enough. Cut again, on a new trial.
    DEEPER = "deeper"


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
    noise_tolerance: float = attrs.field(default=const.NOISE_TOLERANCE, validator=_fraction)
    noise_window: int = attrs.field(default=const.NOISE_WINDOW, validator=_whole)


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


def is_noise(
    *,
    throttled: int,
    answers: int,
    rate: float,
    estimate: float | None,
    noise: float,
    control: RateControl,
) -> bool:
    """Whether a fresh 429 is noise (no cut, no pause of the other requests) rather than the
    account's limit.

    ``throttled`` of the last ``answers`` answers (at most ``noise_window``) were 429s, this
    one included. Before any noise level is known (``noise`` is 0), a 429 is the limit, as
    it always was, unless a whole ``noise_window`` of answers holds at most
    ``noise_tolerance`` of 429s and the rate is well below the ``estimate`` of the limit (at
    most ``decrease_factor`` times it: not on the plateau, not probing past it). Once a
    ``noise`` level is known, the 429s may be as many as it explains with
    ``NOISE_DEVIATIONS`` standard deviations (:func:`allowed_throttles`), or
    ``noise_tolerance`` of the answers plus one if that is more, whatever the rate.
    """
    if noise:
        allowed = allowed_throttles(noise, answers, const.NOISE_DEVIATIONS)
        return throttled <= max(allowed, control.noise_tolerance * answers + 1)
    if answers < control.noise_window:
        return False
    if estimate is not None and rate > control.decrease_factor * estimate:
        return False
    return throttled <= control.noise_tolerance * answers


def cut_verdict(
    *,
    before: float,
    throttled: int,
    answers: int,
    noise: float,
    sample: int,
    persisted: float | None,
) -> Verdict:
    """What the answers to requests sent after a cut say about it: ``answers`` so far,
    ``throttled`` of them 429s.

    Below a real limit the 429s stop (down to the known ``noise`` level), and each cut that
    is still above it lowers their share; noise keeps its share at any rate. ``before`` is
    the largest share seen on this trial: over the last answers before its first cut, and
    after each cut since; ``persisted`` is the share after the cut before this one, when the
    429s persisted after it (``None``: this is the trial's first cut). In this order:

    * ``DEEPER``: the 429s rose: more came than ``before`` (or the noise level, if higher)
      explains with ``DEEPER_DEVIATIONS`` (:func:`allowed_throttles`). Above a limit they
      rise with the rate; noise keeps its share.
    * ``UNDO`` or ``CONFIRM``: after half of ``sample`` answers, already more 429s than the
      noise level explains over the whole ``sample`` (with ``TRIAL_DEVIATIONS``): they
      persisted. If they had already persisted after the cut before, and their share did
      not fall under ``UNDO_SHARE`` (half) of the share then, it is noise: ``UNDO``;
      otherwise ``CONFIRM``: cut again and see.
    * ``KEEP``: ``sample`` answers came, and no more 429s than that.
    * ``WAIT``: too few answers yet.
    """
    reference = max(before, noise)
    if throttled > allowed_throttles(reference, answers, const.DEEPER_DEVIATIONS):
        return Verdict.DEEPER
    if 2 * answers >= sample and throttled > allowed_throttles(
        noise, sample, const.TRIAL_DEVIATIONS
    ):
        if persisted is not None and throttled >= const.UNDO_SHARE * persisted * answers:
            return Verdict.UNDO
        return Verdict.CONFIRM
    if answers < sample:
        return Verdict.WAIT
    return Verdict.KEEP


def noise_level(shares: Sequence[float], window: int) -> float:
    """The noise level: the median share of 429s over the last blocks of answers
    (``shares``; none before a cut was undone), so a few blocks above a limit do not raise
    it and it falls as the 429s stop; 0 once under one 429 a ``window`` of answers."""
    if not shares:
        return 0.0
    ordered = sorted(shares)
    middle = len(ordered) // 2
    # The median, without importing statistics (it costs ``import wamanager`` 2.5 ms).
    level = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return level if level >= 1 / window else 0.0


def allowed_throttles(share: float, answers: int, deviations: float) -> float:
    """The most 429s a ``share`` of noise explains among ``answers``: the expected count,
    plus that many standard ``deviations`` (of a Poisson count), plus one."""
    expected = share * answers
    return expected + deviations * math.sqrt(expected) + 1
