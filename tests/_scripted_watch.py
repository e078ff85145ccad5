"""A scripted deployment for the watcher's loop without a server: its states per poll, the OTP
calls made to it, and a watcher wired to it on a :class:`~wamanager.testing.VirtualClock`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wamanager import (
    Deployment,
    DeploymentState,
    DeploymentWatcher,
    Event,
    OTPMethod,
    PollPolicy,
    ProblemDetails,
    Throttled,
    VerificationFailed,
)
from wamanager._clock import Clock
from wamanager._models import CurrentState
from wamanager.testing import VirtualClock

S = DeploymentState
#: Polls every virtual second, without jitter.
POLICY = PollPolicy(interval=1.0, jitter=0)


def snapshot(state: DeploymentState | str) -> Deployment:
    """A deployment ``d1`` in ``state``."""
    return Deployment("d1", current_state=CurrentState(S(str(state))))


class Remote:
    """A scripted deployment: its state per poll, and the OTP calls made to it."""

    def __init__(self, states: Iterable[DeploymentState | str]) -> None:
        self.states = [S(str(s)) for s in states]
        self.polls: list[tuple[float, float]] = []  # (time, delay asked)
        self.verified: list[str] = []
        self.resent: list[OTPMethod | None] = []
        self.verify_errors: list[Exception] = []
        self.resend_errors: list[Exception] = []
        self.resent_at: list[float] = []
        self.state = self.states[0]
        self.clock: Clock | None = None

    async def poll(
        self, deployment_id: str, *, delay: float, interval: float, clock: Clock
    ) -> Deployment:
        self.clock = clock
        await clock.sleep(delay)
        self.polls.append((clock.now(), delay))
        if self.states:
            self.state = self.states.pop(0)
        return snapshot(self.state)

    async def verify(self, deployment_id: str, code: str) -> object:
        self.verified.append(code)
        if self.verify_errors:
            raise self.verify_errors.pop(0)
        self.states[:0] = [S.CODE_VERIFIED, S.READY]
        return None

    async def resend(self, deployment_id: str, method: OTPMethod | None) -> object:
        self.resent.append(method)
        assert self.clock is not None
        self.resent_at.append(self.clock.now())
        if self.resend_errors:
            raise self.resend_errors.pop(0)
        return None


def watcher(remote: Remote, clock: VirtualClock, **kwargs: Any) -> DeploymentWatcher:
    """A watcher of ``d1`` polling ``remote`` on ``clock``."""
    kwargs.setdefault("policy", POLICY)
    return DeploymentWatcher(
        "d1",
        poll=remote.poll,
        verify=remote.verify,
        resend=remote.resend,
        clock=clock,
        rng=lambda: 0.5,
        **kwargs,
    )


def collect(w: DeploymentWatcher) -> list[Event]:
    events: list[Event] = []
    w.on(Event, events.append)
    return events


def throttled(retry_after: float | None) -> Throttled:
    return Throttled(429, ProblemDetails(title="Throttled"), retry_after=retry_after)


def rejection() -> VerificationFailed:
    return VerificationFailed(422, ProblemDetails(detail="wrong code"))


async def codes(*values: str | None) -> Any:
    """An OTP provider answering ``values`` in turn (then the last one forever)."""
    answers = list(values)

    async def provide(deployment: Deployment) -> str | None:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return provide
