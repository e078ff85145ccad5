"""The OTP step of one watch: ask the provider for the code, verify it, have it sent again.

What to do is decided by the pure :func:`~wamanager.next_otp_action`; :class:`OTPDriver` does
it: it asks the :class:`OTPProvider`, makes the verify and resend calls it is given (never the
client itself), keeps the :class:`~wamanager.OTPProgress` record up to date (awaiting the
``on_progress`` hook before each call, the intent, and after it) and reports what happens as
events. A call that fails transiently, or with a 409, is tried again on a later poll; a 429
cools this deployment's OTP step down for the (capped, jittered) ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs

from ._clock import Clock, utc_now
from ._errors import (
    TRANSIENT,
    Conflict,
    Throttled,
    UnexpectedResponse,
    VerificationFailed,
    WatchTimeout,
)
from ._events import CodeRejected, CodeRequested, CodeResent, CodeVerified, Event, PollFailed
from ._models import Deployment, OTPMethod, ProblemDetails
from ._policy import GiveUp, OTPPolicy, OTPProgress, Resend, Verify, Wait, next_otp_action
from ._retry import capped_retry_after
from ._states import ACTIONABLE, DeploymentState, Signal

__all__ = ["OTPDriver", "OTPProvider", "ProgressHook", "ResendCall", "VerifyCall"]

logger = logging.getLogger("wamanager.watcher")

#: Awaited with the new :class:`~wamanager.OTPProgress` whenever the OTP step changes, and
#: before each verify or resend call (a journal writes it down there).
ProgressHook = Callable[[OTPProgress], Awaitable[None]]
#: ``verify(deployment_id, code)``.
VerifyCall = Callable[[str, str], Awaitable[object]]
#: ``resend(deployment_id, method)``; ``None`` asks for the deployment's own method.
ResendCall = Callable[[str, OTPMethod | None], Awaitable[object]]

# When a 429 on an OTP call gives no Retry-After, the OTP step waits this long.
_OTP_COOLDOWN = 30.0


class OTPProvider(Protocol):
    """Where a watcher gets the OTP: any async function ``(deployment) -> code or None``.

    It is asked on every poll while the deployment waits for a code; it returns the code the
    number received, or ``None`` while none has come (a person reading an SMS, a gateway, the
    sandbox inbox). An exception it raises is logged and counts as ``None``.
    """

    def __call__(self, deployment: Deployment, /) -> Awaitable[str | None]:
        """The code ``deployment``'s number received, or ``None`` while none has come."""
        ...


def _accepted(exc: Exception) -> bool:
    """Whether a failed OTP call was in fact accepted: a 2xx whose body did not parse."""
    return isinstance(exc, UnexpectedResponse) and 200 <= exc.status < 300


class OTPDriver:
    """Drives the OTP step of one deployment (see the module docstring).

    Without a ``provider`` it only keeps the record of what it sees (a code sent, a code
    verified). ``emit`` receives every event; ``clock`` measures the resend timer and the
    cool-downs; ``max_retry_after`` caps a 429's ``Retry-After``.
    """

    __slots__ = (
        "_clock",
        "_emit",
        "_failures",
        "_last_rejection",
        "_on_progress",
        "_provider",
        "_resend_call",
        "_rng",
        "_verify_call",
        "deployment_id",
        "max_retry_after",
        "method",
        "policy",
        "progress",
    )

    def __init__(
        self,
        deployment_id: str,
        provider: OTPProvider | None,
        *,
        verify: VerifyCall | None,
        resend: ResendCall | None,
        policy: OTPPolicy,
        progress: OTPProgress,
        method: OTPMethod | None,
        on_progress: ProgressHook | None,
        clock: Clock,
        rng: Callable[[], float],
        max_retry_after: float,
        emit: Callable[[Event], None],
    ) -> None:
        self.deployment_id = deployment_id
        self.policy = policy
        self.method = method
        self.max_retry_after = max_retry_after
        #: Where the step is (a resumed record is taken as it should restart).
        self.progress = progress.resumed()
        self._provider = provider
        self._verify_call = verify
        self._resend_call = resend
        self._on_progress = on_progress
        self._clock = clock
        self._rng = rng
        self._emit = emit
        self._failures = 0
        self._last_rejection: VerificationFailed | None = None

    @property
    def active(self) -> bool:
        """Whether it drives the step (it has a provider), or only keeps the record."""
        return self._provider is not None

    def observed(self, signals: tuple[Signal, ...], previous: DeploymentState | None) -> None:
        """Record what a new snapshot says about the code (from ``previous``'s state)."""
        # A code was (re)sent on entering CODE_SENT: the resend timer starts now, unless a
        # resumed progress already knows when the code of the first snapshot was sent.
        if (
            Signal.CODE_NEEDED in signals
            and previous not in ACTIONABLE
            and (self.progress.code_since is None or previous is not None)
        ):
            self.progress = attrs.evolve(self.progress, code_since=self._clock.now())
        if Signal.CODE_VERIFIED in signals and not self.progress.verified:
            self.progress = attrs.evolve(self.progress, verified=True, awaiting=False)
            self._emit(CodeVerified(deployment_id=self.deployment_id, at=utc_now()))

    async def step(self, snapshot: Deployment) -> None:
        """Take the OTP action :func:`next_otp_action` decides for this snapshot.

        Raises :class:`~wamanager.VerificationFailed` once too many codes were rejected and
        :class:`~wamanager.WatchTimeout` when no code came after the last resend.
        """
        action = next_otp_action(
            self.policy, self.progress, snapshot.state, self._clock.now(), method=self.method
        )
        if isinstance(action, Wait):
            return
        if isinstance(action, GiveUp):
            raise self._give_up(action, snapshot)
        if isinstance(action, Resend):
            await self._resend(action.method)
            return
        assert isinstance(action, Verify)
        assert self._provider is not None
        if not self.progress.awaiting:
            requested = self.progress.codes_requested + 1
            await self._set_progress(codes_requested=requested, awaiting=True)
            self._emit(
                CodeRequested(deployment_id=self.deployment_id, at=utc_now(), attempt=requested)
            )
        try:
            code = await self._provider(snapshot)
        except Exception:
            logger.exception("the OTP provider of deployment %s failed", self.deployment_id)
            code = None
        if code:
            await self._verify(code)

    def _give_up(self, action: GiveUp, snapshot: Deployment) -> Exception:
        if action.reason == "rejected":
            if self._last_rejection is not None:
                return self._last_rejection
            return VerificationFailed(
                422,
                ProblemDetails(
                    title="Verification Failed",
                    detail=f"{self.progress.rejected} codes were rejected",
                ),
            )
        return WatchTimeout(
            f"deployment {self.deployment_id}: no OTP code came within "
            f"{self.policy.resend_after:g}s of the last of {self.progress.resends} resends",
            deployment_id=self.deployment_id,
            state=snapshot.state,
        )

    async def _verify(self, code: str) -> None:
        assert self._verify_call is not None
        try:
            accepted = await self._call("verify", self._verify_call, code)
        except VerificationFailed as exc:
            self._last_rejection = exc
            self._failures = 0
            rejected = self.progress.rejected + 1
            await self._settled(rejected=rejected, awaiting=False, code_since=self._clock.now())
            self._emit(
                CodeRejected(
                    deployment_id=self.deployment_id,
                    at=utc_now(),
                    attempt=rejected,
                    reason=exc.detail,
                )
            )
            return
        if accepted:
            await self._settled(verified=True, awaiting=False)
            self._emit(CodeVerified(deployment_id=self.deployment_id, at=utc_now()))

    async def _resend(self, method: OTPMethod | None) -> None:
        assert self._resend_call is not None
        if not await self._call("resend", self._resend_call, method):
            return
        resends = self.progress.resends + 1
        await self._settled(resends=resends, awaiting=False, code_since=self._clock.now())
        self._emit(
            CodeResent(
                deployment_id=self.deployment_id,
                at=utc_now(),
                method=(method or self.method or OTPMethod.SMS).value,
                resends=resends,
            )
        )

    async def _call(
        self, name: str, call: Callable[[str, Any], Awaitable[object]], arg: Any
    ) -> bool:
        """Make a verify or resend call, its intent recorded first; whether it was accepted.

        A 409 (the state moved on: the next poll shows where), a 429 (asked too often) or a
        transient failure is reported and left to a later poll; any other error is raised.
        """
        await self._set_progress(pending=name, pending_since=self._clock.now())
        try:
            await call(self.deployment_id, arg)
        except (Conflict, *TRANSIENT) as exc:
            if not _accepted(exc):
                await self._failed(exc)
                return False
        self._failures = 0
        return True

    async def _failed(self, error: Exception) -> None:
        """A verify or resend that did not happen: report it; a 429 cools this OTP step."""
        self._failures += 1
        cooldown_until = self.progress.cooldown_until
        if isinstance(error, Throttled):
            wait = capped_retry_after(
                _OTP_COOLDOWN if error.retry_after is None else error.retry_after,
                self.max_retry_after,
                self._rng(),
            )
            cooldown_until = self._clock.now() + wait
        await self._settled(cooldown_until=cooldown_until)
        self._emit(
            PollFailed(
                deployment_id=self.deployment_id,
                at=utc_now(),
                error=error,
                attempt=self._failures,
            )
        )

    async def _settled(self, **changes: Any) -> None:
        """The pending call is over: record ``changes`` with nothing pending any more."""
        await self._set_progress(pending=None, pending_since=None, **changes)

    async def _set_progress(self, **changes: Any) -> None:
        self.progress = attrs.evolve(self.progress, **changes)
        if self._on_progress is not None:
            await self._on_progress(self.progress)
