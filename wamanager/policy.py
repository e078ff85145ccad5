"""When to poll: :class:`PollPolicy`, a frozen value object, and its pure ``next_delay``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .states import DeploymentState

__all__ = ["DEFAULT_INTERVALS", "PollPolicy"]

_S = DeploymentState

#: Seconds between polls per state, when neither ``interval`` nor ``intervals`` says otherwise.
#: Cluster creation takes minutes, so it is polled slowly; the OTP and finishing stages change
#: within seconds, so they are polled fast.
DEFAULT_INTERVALS: Mapping[DeploymentState, float] = {
    _S.INITIALIZING: 5.0,
    _S.CREATING_CLUSTER: 15.0,
    _S.CLUSTER_CREATED: 3.0,
    _S.CODE_SENT: 3.0,
    _S.WRONG_CODE: 3.0,
    _S.CODE_VERIFIED: 2.0,
    _S.FINALIZING: 3.0,
    _S.DELETING: 5.0,
}
_FALLBACK_INTERVAL = 5.0


def _freeze_intervals(
    value: Mapping[DeploymentState | str, float] | None,
) -> Mapping[DeploymentState, float] | None:
    if value is None:
        return None
    return {DeploymentState(str(state)): float(seconds) for state, seconds in value.items()}


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive number of seconds, not {value!r}")


_FRACTION = [attrs.validators.ge(0.0), attrs.validators.le(1.0)]


@attrs.frozen
class PollPolicy:
    """How often a watcher polls, how it backs off, and when it gives up.

    Args:
        interval: seconds between polls in every state not named in ``intervals``. When
            neither is given, :data:`DEFAULT_INTERVALS` applies. ``PollPolicy(interval=0.05)``
            polls every state every 50 ms.
        intervals: per-state overrides, e.g. ``{DeploymentState.CREATING_CLUSTER: 30}``.
        max_interval: no wait is ever longer than this (except a server's ``Retry-After``).
        jitter: each wait varies by up to this fraction either way, so watchers started
            together spread out.
        backoff: after ``n`` consecutive transient errors the wait is multiplied by
            ``backoff ** n`` (capped at ``max_interval``).
        deadline: seconds from the start of the watch before it gives up with
            :class:`~wamanager.errors.WatchTimeout` (``None``: no deadline).
        stuck_after: seconds without a state change before the watch gives up with
            :class:`~wamanager.errors.WatchTimeout` naming the state (``None``: never).
    """

    interval: float | None = attrs.field(default=None, validator=_positive)
    intervals: Mapping[DeploymentState, float] | None = attrs.field(
        default=None, converter=_freeze_intervals
    )
    max_interval: float = attrs.field(default=60.0, validator=_positive)
    jitter: float = attrs.field(default=0.1, validator=_FRACTION)
    backoff: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    deadline: float | None = attrs.field(default=None, validator=_positive)
    stuck_after: float | None = attrs.field(default=None, validator=_positive)

    def interval_for(self, state: DeploymentState | None) -> float:
        """The base wait in ``state`` (before backoff and jitter)."""
        if state is not None and self.intervals and state in self.intervals:
            return self.intervals[state]
        if self.interval is not None:
            return self.interval
        if state is None:
            return _FALLBACK_INTERVAL
        return DEFAULT_INTERVALS.get(state, _FALLBACK_INTERVAL)

    def next_delay(
        self,
        state: DeploymentState | None,
        *,
        errors: int = 0,
        retry_after: float | None = None,
        random: float = 0.5,
    ) -> float:
        """Seconds to wait before the next poll. Pure.

        Args:
            state: the last state seen (``None`` before the first successful poll).
            errors: consecutive transient errors so far (0 after a good poll).
            retry_after: the server's ``Retry-After`` after a 429, honoured as a floor.
            random: a number in [0, 1) for the jitter; 0.5 means no jitter.
        """
        base = self.interval_for(state)
        if errors > 0:
            base = min(base * self.backoff**errors, max(self.max_interval, base))
        delay = base * (1.0 + self.jitter * (2.0 * random - 1.0))
        delay = min(delay, self.max_interval)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay
