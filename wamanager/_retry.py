"""Retry decisions, as pure functions of their inputs.

The session asks these questions after a failed attempt, and each answer is a function here,
tested as a table with no clock and no sleep:

* :func:`should_retry` — after a 5xx, a dropped connection, a timeout or a cut-short body:
  is another attempt allowed (``max_retries``) and safe (replay safety, below)?
* :func:`parse_retry_after` — how long did the server ask us to wait?
* :func:`retry_delay` — how long to wait before the next attempt?
* :func:`throttle_wait` (through :func:`capped_retry_after`) and :func:`within_throttle_budget`
  — after a 429: how long to hold off, and may this call still wait? 429s never use up
  ``max_retries``: a call waits them out for at most its throttle budget (seconds, from its
  first 429), then raises ``Throttled``.

Safety rule: a request is *replay-safe* when sending it twice does no harm. GET, DELETE, PUT
and PATCH are; so are two POSTs: ``POST /deployments`` (a repeat answers 409 number-in-use,
and the existing deployment's id comes with it) and the profile photo (a repeat sets the same
photo again). Every other POST (``verify``, ``resend-otp``, sticker and sticker pack
creation) is retried only when the request surely never reached the server: the connection
could not be opened, or the server answered 429 before doing anything.
"""

from __future__ import annotations

import enum
import math
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import attrs

from ._checks import validator
from ._constants import (
    DEFAULT_BACKOFF_JITTER,
    DEFAULT_BACKOFF_MULTIPLIER,
    DEFAULT_INITIAL_BACKOFF,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_RETRY_AFTER_JITTER,
    DEFAULT_THROTTLE_WAIT,
)

__all__ = [
    "REPLAY_SAFE_METHODS",
    "RETRYABLE_STATUSES",
    "Failure",
    "RetryPolicy",
    "backoff_delay",
    "capped_retry_after",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
    "throttle_wait",
    "within_throttle_budget",
]

#: Statuses that say "try again": throttling and the transient server errors.
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
#: HTTP methods that are safe to send twice.
REPLAY_SAFE_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "OPTIONS", "DELETE", "PUT", "PATCH"}
)


class Failure(enum.Enum):
    """What went wrong with one attempt."""

    #: The connection could not be opened: the request surely never reached the server.
    CONNECT = "connect"
    #: The connection dropped after the request may have been sent.
    DISCONNECTED = "disconnected"
    #: No answer within the timeout (the request may have been processed).
    TIMEOUT = "timeout"
    #: The server answered with an error status.
    STATUS = "status"
    #: A success status with a body that is not JSON (truncated by a proxy, for example).
    MALFORMED = "malformed"


def _number(*, minimum: float, maximum: float = math.inf, integer: bool = False) -> Any:
    """An attrs validator: a finite number (an int if ``integer``) in [minimum, maximum]."""

    def problem(value: object) -> str | None:
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            kind = "an int" if integer else "a number"
            return f"must be {kind}, not {type(value).__name__}"
        if not (math.isfinite(value) and minimum <= value <= maximum):
            upper = "" if math.isinf(maximum) else f" and <= {maximum:g}"
            return f"must be >= {minimum:g}{upper}, not {value!r}"
        return None

    return validator(problem)


@attrs.frozen
class RetryPolicy:
    """How many times to retry and how long to wait. Frozen; change it with ``attrs.evolve``.

    Waits grow as ``initial_backoff * multiplier ** (attempt - 1)``, capped at
    ``max_backoff``, and each is shortened by a random fraction of up to ``jitter``
    (so concurrent clients spread out). A ``Retry-After`` from the server replaces the
    computed wait: it is capped at ``max_retry_after`` and then lengthened by a random
    fraction of up to ``retry_after_jitter``. A bad value raises
    :class:`~wamanager.ValidationError` naming the field.
    """

    max_retries: int = attrs.field(
        default=DEFAULT_MAX_RETRIES, validator=_number(minimum=0, maximum=100, integer=True)
    )
    initial_backoff: float = attrs.field(
        default=DEFAULT_INITIAL_BACKOFF, validator=_number(minimum=0)
    )
    max_backoff: float = attrs.field(default=DEFAULT_MAX_BACKOFF, validator=_number(minimum=0))
    multiplier: float = attrs.field(
        default=DEFAULT_BACKOFF_MULTIPLIER, validator=_number(minimum=1)
    )
    jitter: float = attrs.field(
        default=DEFAULT_BACKOFF_JITTER, validator=_number(minimum=0, maximum=1)
    )
    max_retry_after: float = attrs.field(
        default=DEFAULT_MAX_RETRY_AFTER, validator=_number(minimum=0)
    )
    retry_after_jitter: float = attrs.field(
        default=DEFAULT_RETRY_AFTER_JITTER, validator=_number(minimum=0, maximum=1)
    )


def should_retry(
    *,
    attempt: int,
    max_retries: int,
    failure: Failure,
    status: int | None = None,
    replay_safe: bool,
) -> bool:
    """Whether to make another attempt after attempt number ``attempt`` (1-based) failed.

    ``attempt`` counts the attempts that failed for other reasons than a 429: the session
    decides 429s with :func:`within_throttle_budget` instead.
    """
    if attempt > max_retries:
        return False
    if failure is Failure.CONNECT:
        return True
    if failure is Failure.STATUS:
        if status == 429:
            return True
        return replay_safe and status in RETRYABLE_STATUSES
    # DISCONNECTED, TIMEOUT, MALFORMED: the server may have acted on the request.
    return replay_safe


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date.

    Returns ``None`` for a missing or unreadable value, and never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max((when - now).total_seconds(), 0.0)


def backoff_delay(attempt: int, policy: RetryPolicy, random: float) -> float:
    """The exponential wait after attempt ``attempt`` failed; ``random`` is in [0, 1)."""
    exponent = max(attempt - 1, 0)
    ceiling = min(policy.max_backoff, policy.initial_backoff * policy.multiplier**exponent)
    return ceiling * (1.0 - policy.jitter * random)


def capped_retry_after(
    retry_after: float, cap: float, random: float, *, spread: float = DEFAULT_RETRY_AFTER_JITTER
) -> float:
    """A server's ``Retry-After`` as a wait: capped at ``cap``, then stretched by up to
    ``spread`` (10 % by default).

    The stretch (``random`` in [0, 1)) spreads the clients that were all told the same wait,
    so they do not come back at the same instant; it never shortens what the server asked.
    """
    return min(max(retry_after, 0.0), cap) * (1.0 + spread * random)


def throttle_wait(retry_after: float | None, policy: RetryPolicy, random: float) -> float:
    """The wait a server's ``Retry-After`` asks for: capped, then jittered upwards.

    ``min(retry_after, max_retry_after) * (1 + retry_after_jitter * random)``; without a
    (readable) ``Retry-After``, the base is one second. Never shorter than what the server
    asked for, unless that exceeds the cap.
    """
    base = DEFAULT_THROTTLE_WAIT if retry_after is None else retry_after
    return capped_retry_after(
        base, policy.max_retry_after, random, spread=policy.retry_after_jitter
    )


def retry_delay(
    attempt: int, policy: RetryPolicy, *, retry_after: float | None, random: float
) -> float:
    """The wait before the next attempt: ``Retry-After`` when given (see
    :func:`throttle_wait`), else the exponential backoff."""
    if retry_after is not None:
        return throttle_wait(retry_after, policy, random)
    return backoff_delay(attempt, policy, random)


def within_throttle_budget(*, spent: float, wait: float, budget: float) -> bool:
    """Whether a call that has spent ``spent`` seconds on 429s may wait ``wait`` more and
    retry: the whole time spent on 429s must stay within ``budget``."""
    return spent + wait <= budget
