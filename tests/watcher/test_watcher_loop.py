"""The watcher's loop without a server: a scripted poll, fake OTP calls and an injected clock.

No test here waits for real time: every wait goes through :class:`VirtualClock`, which moves
its time forward by what was asked and returns at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from wamanager import (
    CodeRejected,
    CodeRequested,
    CodeResent,
    CodeVerified,
    Deployment,
    DeploymentState,
    DeploymentWatcher,
    Event,
    OTPMethod,
    OTPPolicy,
    OTPProgress,
    PollFailed,
    PollPolicy,
    ProblemDetails,
    ResendConflict,
    Succeeded,
    Throttled,
    UnexpectedResponse,
    ValidationError,
    VerificationFailed,
    WatchTimeout,
)
from wamanager._clock import Clock
from wamanager._models import CurrentState
from wamanager.testing import VirtualClock

S = DeploymentState
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


async def test_waits_are_measured_on_the_injected_clock() -> None:
    """Every wait of a watch goes through the clock: no real time passes."""
    clock = VirtualClock()
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CLUSTER_CREATED, S.READY])
    with anyio.fail_after(5):
        result = await watcher(remote, clock).result()
    assert result.state is S.READY
    assert [delay for _, delay in remote.polls] == [0.0, 1.0, 1.0, 1.0]
    assert clock.time == 3.0


async def test_resend_goes_by_the_deployments_own_method() -> None:
    """Without fallback_to_voice a voice deployment's code is resent by voice, not SMS."""
    clock = VirtualClock()
    remote = Remote([S.CODE_SENT] * 10)
    w = watcher(
        remote,
        clock,
        otp=await codes(None),
        otp_policy=OTPPolicy(resend_after=3, max_resends=1),
        method="voice",
    )
    events = collect(w)
    with pytest.raises(WatchTimeout, match="no OTP code"):
        await w.result()
    assert remote.resent == [OTPMethod.VOICE]
    assert [e.method for e in events if isinstance(e, CodeResent)] == ["voice"]


async def test_resend_without_a_known_method_lets_the_api_choose() -> None:
    """A watcher that does not know the method sends none (the API uses the deployment's)."""
    clock = VirtualClock()
    remote = Remote([S.CODE_SENT] * 10)
    w = watcher(
        remote, clock, otp=await codes(None), otp_policy=OTPPolicy(resend_after=3, max_resends=1)
    )
    with pytest.raises(WatchTimeout):
        await w.result()
    assert remote.resent == [None]


async def test_fallback_to_voice_resends_by_voice() -> None:
    """fallback_to_voice switches an SMS deployment's resends to voice."""
    remote = Remote([S.CODE_SENT] * 10)
    w = watcher(
        remote,
        VirtualClock(),
        otp=await codes(None),
        otp_policy=OTPPolicy(resend_after=3, max_resends=1, fallback_to_voice=True),
        method="sms",
    )
    with pytest.raises(WatchTimeout):
        await w.result()
    assert remote.resent == [OTPMethod.VOICE]


async def test_an_otp_429_delays_only_the_otp_step() -> None:
    """A 429 on resend-otp cools the OTP step for Retry-After; polling goes on meanwhile."""
    clock = VirtualClock()
    remote = Remote([S.CODE_SENT] * 40)
    remote.resend_errors = [throttled(10.0)]
    w = watcher(
        remote, clock, otp=await codes(None), otp_policy=OTPPolicy(resend_after=3, max_resends=1)
    )
    events = collect(w)
    with pytest.raises(WatchTimeout):
        await w.result()
    assert len(remote.resent) == 2
    gaps = [b - a for (a, _), (b, _) in zip(remote.polls, remote.polls[1:], strict=False)]
    assert set(gaps) == {1.0}  # the poll interval never grew
    failed = [e for e in events if isinstance(e, PollFailed)]
    assert [type(e.error) for e in failed] == [Throttled]
    # the second resend waited out the (stretched) Retry-After, 10 s * 1.05, on the next poll
    assert remote.resent_at == [3.0, 14.0]


async def test_an_otp_retry_after_is_capped() -> None:
    """A 429 asking for 999,999 s holds the OTP step for max_retry_after (60 s) at most."""
    clock = VirtualClock()
    remote = Remote([S.CODE_SENT] * 100)
    remote.verify_errors = [throttled(999999.0)]
    w = watcher(remote, clock, otp=await codes("123456"))
    with anyio.fail_after(5):
        assert (await w.result()).state is S.READY
    assert len(remote.verified) == 2
    assert clock.time < 70


async def test_poll_failed_attempt_counts_consecutive_otp_failures() -> None:
    """PollFailed.attempt counts OTP failures in a row (1, 2, 3), not always 1."""
    remote = Remote([S.CODE_SENT] * 10)
    remote.verify_errors = [ResendConflict(409), ResendConflict(409), ResendConflict(409)]
    w = watcher(remote, VirtualClock(), otp=await codes("123456"))
    events = collect(w)
    await w.result()
    assert [e.attempt for e in events if isinstance(e, PollFailed)] == [1, 2, 3]


async def test_a_resend_with_a_malformed_202_body_still_counts() -> None:
    """A resend answered 202 with a body that does not parse happened: CodeResent is emitted."""
    remote = Remote([S.CODE_SENT] * 10)
    remote.resend_errors = [UnexpectedResponse("cut short", status=202)]
    w = watcher(
        remote,
        VirtualClock(),
        otp=await codes(None),
        otp_policy=OTPPolicy(resend_after=3, max_resends=1),
    )
    events = collect(w)
    with pytest.raises(WatchTimeout):
        await w.result()
    assert [e.resends for e in events if isinstance(e, CodeResent)] == [1]
    assert w.otp_progress.resends == 1


async def test_a_verify_with_a_malformed_201_body_counts_as_verified() -> None:
    """A verify answered 201 with a body that does not parse was accepted."""
    remote = Remote([S.CODE_SENT, S.CODE_SENT, S.CODE_VERIFIED, S.READY])
    remote.verify_errors = [UnexpectedResponse("cut short", status=201)]
    w = watcher(remote, VirtualClock(), otp=await codes("123456"))
    events = collect(w)
    assert (await w.result()).state is S.READY
    assert sum(isinstance(e, CodeVerified) for e in events) == 1
    assert remote.verified == ["123456"]


async def test_rejections_then_give_up_with_the_last_rejection() -> None:
    """max_verify_attempts rejected codes end the watch with the API's VerificationFailed."""
    remote = Remote([S.CODE_SENT] + [S.WRONG_CODE] * 10)
    last = rejection()
    remote.verify_errors = [rejection(), last]
    w = watcher(
        remote,
        VirtualClock(),
        otp=await codes("1", "2", "3"),
        otp_policy=OTPPolicy(max_verify_attempts=2),
    )
    events = collect(w)
    with pytest.raises(VerificationFailed) as caught:
        await w.result()
    assert caught.value is last
    assert [e.attempt for e in events if isinstance(e, CodeRejected)] == [1, 2]
    assert [e.attempt for e in events if isinstance(e, CodeRequested)] == [1, 2]


async def test_progress_hook_sees_intent_before_each_otp_call() -> None:
    """on_progress is awaited with a pending verify/resend before the call, cleared after."""
    remote = Remote([S.CODE_SENT] * 20)
    seen: list[OTPProgress] = []
    calls_when_seen: list[int] = []

    async def record(progress: OTPProgress) -> None:
        seen.append(progress)
        calls_when_seen.append(len(remote.resent) + len(remote.verified))

    w = watcher(
        remote,
        VirtualClock(),
        otp=await codes(None, None, None, None, "42"),
        otp_policy=OTPPolicy(resend_after=3, max_resends=2),
        on_progress=record,
    )
    assert (await w.result()).state is S.READY
    pending = [(p.pending, n) for p, n in zip(seen, calls_when_seen, strict=True) if p.pending]
    assert pending == [("resend", 0), ("verify", 1)]
    assert seen[-1].verified
    assert seen[-1].pending is None


async def test_a_resumed_progress_continues_the_resend_timer() -> None:
    """A watch resumed from a journal keeps the code's age and counts: no fresh 300 s wait."""
    clock = VirtualClock(start=1000.0)
    remote = Remote([S.CODE_SENT] * 10)
    progress = OTPProgress(codes_requested=1, resends=1, code_since=750.0)
    w = watcher(
        remote,
        clock,
        otp=await codes(None),
        otp_policy=OTPPolicy(resend_after=300, max_resends=2),
        progress=progress,
    )
    with pytest.raises(WatchTimeout):
        await w.result()
    # 250 s had passed: the second (last) resend comes 50 s in, then 300 s more before giving up
    assert remote.resent == [None]
    assert w.otp_progress.resends == 2


async def test_a_slow_callback_never_delays_polls() -> None:
    """Delivery runs beside the poll loop: a callback that blocks does not hold a poll."""
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CLUSTER_CREATED, S.READY])
    release = anyio.Event()
    delivered: list[Event] = []

    async def slow(event: Event) -> None:
        await release.wait()
        delivered.append(event)

    w = watcher(remote, VirtualClock())
    w.on(Event, slow)
    async with anyio.create_task_group() as tg, w:
        with anyio.fail_after(5):
            while len(remote.polls) < 4:
                await anyio.lowlevel.checkpoint()
        assert delivered == []  # every poll happened while the first callback blocked
        release.set()
        result = await w.result()
        tg.cancel_scope.cancel()
    assert result.state is S.READY
    assert isinstance(delivered[-1], Succeeded)


async def test_a_full_event_buffer_never_delays_polls() -> None:
    """An iterator nobody reads (buffer of 1) fills up; the watch still reaches READY."""
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CLUSTER_CREATED, S.CODE_SENT, S.READY])
    w = watcher(remote, VirtualClock(), buffer_size=1)
    async with w:
        stream = w.events()
        with anyio.fail_after(5):
            while len(remote.polls) < 5:
                await anyio.lowlevel.checkpoint()
        first = await stream.__anext__()
        stream.close()
        assert (await w.result()).state is S.READY
    assert first.deployment_id == "d1"


async def test_wait_for_works_while_another_task_awaits_the_result() -> None:
    """wait_for() needs no `async with`: it works beside `await watcher.result()`."""
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CODE_SENT, S.CODE_VERIFIED, S.READY])
    w = watcher(remote, VirtualClock())
    seen: list[Deployment] = []

    async def wait() -> None:
        seen.append(await w.wait_for(S.CODE_SENT))

    async with anyio.create_task_group() as tg:
        tg.start_soon(w.result)
        await anyio.lowlevel.checkpoint()
        tg.start_soon(wait)
    assert [d.state for d in seen] == [S.CODE_SENT]


async def test_the_deadline_runs_on_the_injected_clock() -> None:
    """PollPolicy.deadline is measured on the watcher's clock (sandbox or fake time)."""
    clock = VirtualClock()
    remote = Remote([S.CREATING_CLUSTER] * 1000)
    w = watcher(remote, clock, policy=PollPolicy(interval=10.0, jitter=0, deadline=95.0))
    with anyio.fail_after(5), pytest.raises(WatchTimeout, match="not READY within 95s"):
        await w.result()
    assert len(remote.polls) == 10


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"deployment_id": ""}, "deployment_id"),
        ({"otp": object(), "verify": None}, "otp"),
        ({"method": "fax"}, "method"),
        ({"clock": object()}, "clock"),
    ],
)
def test_bad_arguments_are_validation_errors(kwargs: dict[str, Any], field: str) -> None:
    """Bad constructor arguments raise a ValidationError naming the field."""
    remote = Remote([S.READY])
    arguments: dict[str, Any] = {
        "poll": remote.poll,
        "verify": remote.verify,
        "resend": remote.resend,
    }
    arguments.update(kwargs)
    deployment_id = arguments.pop("deployment_id", "d1")
    with pytest.raises(ValidationError) as caught:
        DeploymentWatcher(deployment_id, **arguments)
    assert field in caught.value.fields
