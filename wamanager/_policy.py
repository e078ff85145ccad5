"""The watcher's decisions, as values and pure functions.

* :class:`PollPolicy` and its ``next_delay``: *when* to poll;
* :class:`OTPPolicy`, :class:`OTPProgress` and :func:`next_otp_action`: *what* OTP step to
  take (verify, resend, wait or give up), given where the step is.

Nothing here does I/O or reads a clock: the watcher passes the time in, so every decision is
tested as a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._checks import is_count, is_number, validator
from ._errors import FieldProblem, ValidationError
from ._models import OTPMethod
from ._retry import capped_retry_after
from ._states import ACTIONABLE, DeploymentState

__all__ = [
    "DEFAULT_INTERVALS",
    "GiveUp",
    "OTPAction",
    "OTPPolicy",
    "OTPProgress",
    "PollPolicy",
    "Resend",
    "Verify",
    "Wait",
    "next_otp_action",
]

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
    if not isinstance(value, Mapping):
        raise ValidationError(
            [("intervals", "must be a mapping of state to seconds")], model="PollPolicy"
        )
    frozen: dict[DeploymentState, float] = {}
    for state, seconds in value.items():
        if not isinstance(state, str) or not _is_seconds(seconds) or seconds <= 0:
            raise ValidationError(
                [("intervals", "must map state names to positive numbers of seconds")],
                model="PollPolicy",
            )
        frozen[DeploymentState(state)] = float(seconds)
    return frozen


def _is_seconds(value: object) -> bool:
    return is_number(value) and math.isfinite(value)


def _check(test: Callable[[Any], bool], reason: str) -> Any:
    """An attrs validator: :class:`ValidationError` naming the field, with ``reason``."""
    return validator(lambda value: None if test(value) else f"{reason}, not {value!r}")


_POSITIVE = _check(lambda v: _is_seconds(v) and v > 0, "must be a positive number of seconds")
_OPTIONAL_POSITIVE = _check(
    lambda v: v is None or (_is_seconds(v) and v > 0),
    "must be a positive number of seconds, or None",
)
_FRACTION = _check(lambda v: _is_seconds(v) and 0.0 <= v <= 1.0, "must be within [0, 1]")
_FACTOR = _check(lambda v: _is_seconds(v) and v >= 1.0, "must be a number >= 1")
_COUNT = _check(lambda v: is_count(v) and v >= 0, "must be a whole number >= 0")
_BOOL = _check(lambda v: isinstance(v, bool), "must be True or False")


@attrs.frozen
class PollPolicy:
    """How often a watcher polls, how it backs off, and when it gives up.

    All times are in seconds of the watcher's clock (real seconds by default; sandbox seconds
    when the watcher runs on ``sandbox.clock``).

    Args:
        interval: seconds between polls in every state not named in ``intervals``. When
            neither is given, :data:`DEFAULT_INTERVALS` applies. ``PollPolicy(interval=0.05)``
            polls every state every 50 ms.
        intervals: per-state overrides, e.g. ``{DeploymentState.CREATING_CLUSTER: 30}``.
        max_interval: no wait is ever longer than this (except a server's ``Retry-After``).
        jitter: each wait varies by up to this fraction either way, so watchers started
            together spread out (watchers batched by one scheduler are aligned to its
            shared ticks instead).
        backoff: after ``n`` consecutive transient errors the wait is multiplied by
            ``backoff ** n`` (capped at ``max_interval``).
        max_retry_after: the longest ``Retry-After`` a watcher honours (a server asking for
            more is waited this long, then asked again).
        deadline: seconds from the start of the watch before it gives up with
            :class:`~wamanager.WatchTimeout` (``None``: no deadline).
        stuck_after: seconds without a state change before the watch gives up with
            :class:`~wamanager.WatchTimeout` naming the state (``None``: never).

    Bad values raise :class:`~wamanager.ValidationError` naming the field.
    """

    interval: float | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)
    intervals: Mapping[DeploymentState, float] | None = attrs.field(
        default=None, converter=_freeze_intervals
    )
    max_interval: float = attrs.field(default=60.0, validator=_POSITIVE)
    jitter: float = attrs.field(default=0.1, validator=_FRACTION)
    backoff: float = attrs.field(default=2.0, validator=_FACTOR)
    max_retry_after: float = attrs.field(default=60.0, validator=_POSITIVE)
    deadline: float | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)
    stuck_after: float | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)

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
            retry_after: the server's ``Retry-After`` after a 429, honoured as a floor once
                capped at ``max_retry_after`` and stretched (see :func:`capped_retry_after`).
            random: a number in [0, 1) for the jitter; 0.5 means no jitter.
        """
        base = self.interval_for(state)
        if errors > 0:
            base = min(base * self.backoff**errors, max(self.max_interval, base))
        delay = base * (1.0 + self.jitter * (2.0 * random - 1.0))
        delay = min(delay, self.max_interval)
        if retry_after is not None:
            delay = max(delay, capped_retry_after(retry_after, self.max_retry_after, random))
        return delay


# --- the OTP step as data ------------------------------------------------------------------


@attrs.frozen
class OTPPolicy:
    """How a watcher drives the OTP: when to give up, when to ask for another code.

    Args:
        max_verify_attempts: rejected codes (422) before the watch gives up with
            :class:`~wamanager.VerificationFailed`.
        max_resends: resend-otp calls before a watch that still gets no code gives up with
            :class:`~wamanager.WatchTimeout`.
        resend_after: seconds (of the watcher's clock) to wait for a code before calling
            resend-otp; the spec suggests five minutes.
        fallback_to_voice: resend by voice; otherwise by the deployment's own method.
    """

    max_verify_attempts: int = attrs.field(
        default=3,
        validator=_check(lambda v: is_count(v) and v >= 1, "must be a whole number >= 1"),
    )
    max_resends: int = attrs.field(default=3, validator=_COUNT)
    resend_after: float = attrs.field(default=300.0, validator=_POSITIVE)
    fallback_to_voice: bool = attrs.field(default=False, validator=_BOOL)


@attrs.frozen
class OTPProgress:
    """Where the OTP step of one deployment is: a frozen record, serialisable as JSON.

    The watcher replaces it after every OTP event; :meth:`to_json` / :meth:`from_json` let a
    journal store it, so that a resumed run continues the step (the resend timer, the counts)
    instead of starting over. Times are in seconds of the watcher's clock.

    Attributes:
        codes_requested: codes asked of the OTP provider (one per code awaited).
        rejected: codes the API rejected.
        resends: resend-otp calls that were accepted.
        verified: whether a code was accepted.
        awaiting: whether the provider is being asked for the code now awaited.
        code_since: when the code now awaited was sent (entering CODE_SENT, a rejection or a
            resend restarts it); ``None`` before the deployment first needed a code.
        cooldown_until: no OTP call before this time (the API answered 429).
        pending: ``"verify"`` or ``"resend"`` while such a call is in flight (written before
            the call, cleared after: a run resumed from a journal knows it may have happened).
        pending_since: when the pending call was started.
    """

    codes_requested: int = 0
    rejected: int = 0
    resends: int = 0
    verified: bool = False
    awaiting: bool = False
    code_since: float | None = None
    cooldown_until: float | None = None
    pending: str | None = None
    pending_since: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OTPProgress:
        """Rebuild a progress record from :meth:`to_json`'s dict (unknown keys are ignored).

        Raises :class:`~wamanager.ValidationError` for a value of the wrong type.
        """
        fields = {f.name: f for f in attrs.fields(cls)}
        values: dict[str, Any] = {}
        problems: list[FieldProblem] = []
        for name, value in data.items():
            field = fields.get(name)
            if field is None:
                continue
            if not _FIELD_CHECKS[name](value):
                problems.append((name, f"has the wrong type ({type(value).__name__})"))
            values[name] = value
        if problems:
            raise ValidationError(problems, model="OTPProgress")
        return cls(**values)

    def resumed(self) -> OTPProgress:
        """This record as a resumed run should start from: a call left pending by a crash
        is taken as made (a resend restarts the resend timer; a verify is settled by the
        next poll, which shows whether the code was accepted)."""
        if self.pending == "resend":
            return attrs.evolve(
                self,
                resends=self.resends + 1,
                code_since=self.pending_since,
                awaiting=False,
                pending=None,
                pending_since=None,
            )
        if self.pending is not None:
            return attrs.evolve(self, awaiting=False, pending=None, pending_since=None)
        return self


def _optional_number(value: object) -> bool:
    return value is None or _is_seconds(value)


def _non_negative_count(value: object) -> bool:
    return is_count(value) and value >= 0


_FIELD_CHECKS: Mapping[str, Callable[[object], bool]] = {
    "codes_requested": _non_negative_count,
    "rejected": _non_negative_count,
    "resends": _non_negative_count,
    "verified": lambda v: isinstance(v, bool),
    "awaiting": lambda v: isinstance(v, bool),
    "code_since": _optional_number,
    "cooldown_until": _optional_number,
    "pending": lambda v: v in (None, "verify", "resend"),
    "pending_since": _optional_number,
}


@attrs.frozen
class Verify:
    """Ask the OTP provider for the code and verify it (if one has come)."""


@attrs.frozen
class Resend:
    """Call resend-otp, by ``method`` (``None``: the deployment's own method)."""

    method: OTPMethod | None = None


@attrs.frozen
class Wait:
    """Nothing to do now; ``until`` is when something could change (``None``: a new state)."""

    until: float | None = None


@attrs.frozen
class GiveUp:
    """Stop the watch: ``reason`` is ``"rejected"`` (too many wrong codes) or ``"no_code"``
    (no code came after the last allowed resend)."""

    reason: str


#: What :func:`next_otp_action` decides.
OTPAction = Verify | Resend | Wait | GiveUp


def next_otp_action(
    policy: OTPPolicy,
    progress: OTPProgress,
    state: DeploymentState | None,
    now: float,
    *,
    method: OTPMethod | None = None,
) -> OTPAction:
    """The OTP step to take now. Pure: no I/O, no clock of its own.

    Args:
        policy: the limits.
        progress: what has happened so far.
        state: the deployment's last polled state.
        now: the current time of the watcher's clock.
        method: the deployment's own delivery method, if known (what a resend uses unless
            ``policy.fallback_to_voice``).
    """
    if state not in ACTIONABLE or progress.verified:
        return Wait()
    if progress.rejected >= policy.max_verify_attempts:
        return GiveUp("rejected")
    if progress.cooldown_until is not None and now < progress.cooldown_until:
        return Wait(progress.cooldown_until)
    started = now if progress.code_since is None else progress.code_since
    if now - started < policy.resend_after:
        return Verify()
    if progress.resends >= policy.max_resends:
        return GiveUp("no_code")
    return Resend(OTPMethod.VOICE if policy.fallback_to_voice else method)
