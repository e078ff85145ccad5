"""Retry decisions, as pure functions of their inputs.

The session asks three questions after a failed attempt, and each answer is a function here,
tested as a table with no clock and no sleep:

* :func:`should_retry` — is another attempt allowed and safe?
* :func:`parse_retry_after` — how long did the server ask us to wait?
* :func:`retry_delay` — how long to wait before the next attempt?

Safety rule: a request is *replay-safe* when sending it twice does no harm. GET, DELETE, PUT
and PATCH are; ``POST /deployments`` is too (a repeat answers 409 number-in-use, and the
existing deployment's id comes with it). Every other POST (``verify``, ``resend-otp``, sticker
and sticker pack creation) is retried only when the request surely never reached the server:
the connection could not be opened, or the server answered 429 before doing anything.
"""

from __future__ import annotations

import enum
import math
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import attrs

__all__ = [
    "REPLAY_SAFE_METHODS",
    "RETRYABLE_STATUSES",
    "Failure",
    "RetryPolicy",
    "backoff_delay",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
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


@attrs.frozen
class RetryPolicy:
    """How many times to retry and how long to wait. Frozen; change it with ``attrs.evolve``.

    Waits grow as ``initial_backoff * multiplier ** (attempt - 1)``, capped at
    ``max_backoff``, and each is shortened by a random fraction of up to ``jitter``
    (so concurrent clients spread out). A ``Retry-After`` from the server replaces the
    computed wait, capped at ``max_retry_after``.
    """

    max_retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    initial_backoff: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_backoff: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    jitter: float = attrs.field(
        default=0.5, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )
    max_retry_after: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))


def should_retry(
    *,
    attempt: int,
    max_retries: int,
    failure: Failure,
    status: int | None = None,
    replay_safe: bool,
) -> bool:
    """Whether to make another attempt after attempt number ``attempt`` (1-based) failed."""
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


def retry_delay(
    attempt: int, policy: RetryPolicy, *, retry_after: float | None, random: float
) -> float:
    """The wait before the next attempt: ``Retry-After`` when given (capped), else backoff."""
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    return backoff_delay(attempt, policy, random)
