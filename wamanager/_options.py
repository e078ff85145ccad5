"""The session's options: :class:`Timeout`, the :data:`NOT_GIVEN` sentinel, and their checks.

Every argument of the client that is not a credential is checked here, so that a bad one
raises :class:`~wamanager.ValidationError` naming it (all of them at once) before any
request. Defaults come from :mod:`wamanager._constants`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable
from typing import TypedDict

import aiohttp
import attrs
import yarl

from . import _constants as const
from ._checks import collect, count_problem, is_number, validator
from ._errors import FieldProblem, ValidationError
from ._retry import RetryPolicy

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "CallOptions",
    "NotGiven",
    "Sleep",
    "Timeout",
    "base_url_problem",
    "check_options",
]

#: How to wait a number of seconds (``anyio.sleep``, or a fake in tests).
Sleep = Callable[[float], Awaitable[None]]


class NotGiven(enum.Enum):
    """Type of :data:`NOT_GIVEN`: "use the default", distinct from ``None``."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: Sentinel for an argument that was not passed (where ``None`` means something).
NOT_GIVEN = NotGiven.NOT_GIVEN


def _seconds_problem(value: object) -> str | None:
    """Why ``value`` is not a usable number of seconds (> 0, finite, or None)."""
    if value is None:
        return None
    if not is_number(value):
        return f"must be a number of seconds or None, not {type(value).__name__}"
    if not (math.isfinite(value) and value > 0):
        return f"must be > 0 seconds (None: no limit), not {value!r}"
    return None


_check_seconds = validator(_seconds_problem, prefix="timeout.")


@attrs.frozen
class Timeout:
    """Timeouts of one attempt, in seconds (``None`` waits forever).

    ``total`` bounds the whole attempt (connect, send, read) from the moment it is sent:
    the wait for a rate-limit slot and for a free pooled connection comes before and is not
    counted. ``connect`` bounds opening a connection. A bare number passed where a
    ``Timeout`` is expected sets ``total`` (and ``connect``, up to 10 s). Values must be
    > 0 or ``None`` (:class:`~wamanager.ValidationError` otherwise).
    """

    total: float | None = attrs.field(default=const.DEFAULT_TOTAL_TIMEOUT, validator=_check_seconds)
    connect: float | None = attrs.field(
        default=const.DEFAULT_CONNECT_TIMEOUT, validator=_check_seconds
    )

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        """Coerce a number (or ``None``) into a :class:`Timeout`."""
        if isinstance(value, Timeout):
            return value
        reason = _seconds_problem(value)
        if reason is not None:
            raise ValidationError([("timeout", reason)], model="Timeout")
        if value is None:
            return cls(total=None, connect=None)
        return cls(total=value, connect=min(value, const.DEFAULT_CONNECT_TIMEOUT))

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """The matching :class:`aiohttp.ClientTimeout`."""
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect)


#: The default :class:`Timeout` of one attempt.
DEFAULT_TIMEOUT = Timeout()


class CallOptions(TypedDict, total=False):
    """The per-call options a ``with_options`` copy may change (a key left out: unchanged).

    See :class:`~wamanager.WhatsAppManager` for each one.
    """

    timeout: float | Timeout | None
    max_retries: int
    retry: RetryPolicy | None
    throttle_budget: float
    max_response_size: int


def base_url_problem(value: object) -> str | None:
    """Why ``value`` is not a usable API root (an absolute http(s) URL, no credentials)."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    try:
        url = yarl.URL(value)
    except (ValueError, TypeError):
        return "is not a URL"
    if url.scheme not in ("http", "https") or not url.host:
        return "must be an absolute http(s) URL with a host, e.g. " + const.DEFAULT_BASE_URL
    if url.user is not None or url.password is not None:
        return "must not carry credentials (pass auth= instead)"
    if url.query_string or url.fragment:
        return "must not have a query or a fragment"
    return None


def _budget_problem(value: object) -> str | None:
    if not is_number(value):
        return f"must be a number of seconds, not {type(value).__name__}"
    if not (math.isfinite(value) and value >= 0):
        return f"must be >= 0 seconds, not {value!r}"
    return None


def check_options(
    timeout: float | Timeout | None,
    retry: RetryPolicy | None,
    max_retries: int | NotGiven,
    throttle_budget: float,
    max_response_size: int,
    *,
    model: str = "WhatsAppManager",
) -> tuple[Timeout, RetryPolicy, float, int]:
    """Check the per-call options; ValidationError naming every bad one."""
    problems: list[FieldProblem] = []
    checked_timeout = collect(problems, lambda: Timeout.of(timeout))
    policy = retry
    if policy is None:
        policy = RetryPolicy()
    elif not isinstance(policy, RetryPolicy):
        problems.append(("retry", "must be a RetryPolicy or None"))
        policy = RetryPolicy()
    if not isinstance(max_retries, NotGiven):
        base = policy
        policy = collect(problems, lambda: attrs.evolve(base, max_retries=max_retries))
    for field, reason in (
        ("throttle_budget", _budget_problem(throttle_budget)),
        ("max_response_size", count_problem(max_response_size, 1)),
    ):
        if reason is not None:
            problems.append((field, reason))
    if problems:
        raise ValidationError(problems, model=model)
    assert checked_timeout is not None  # both checks passed: neither is None
    assert policy is not None
    return checked_timeout, policy, throttle_budget, max_response_size
