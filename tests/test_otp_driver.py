"""The OTP step of a watch, on a scripted deployment and a virtual clock: resends by the right
method, fallback to voice, 429s on OTP calls, malformed answers, rejections, and progress."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from wamanager import (
    CodeRejected,
    CodeRequested,
    CodeResent,
    CodeVerified,
    OTPMethod,
    OTPPolicy,
    OTPProgress,
    PollFailed,
    ResendConflict,
    Throttled,
    UnexpectedResponse,
    VerificationFailed,
    WatchTimeout,
)
from wamanager.testing import VirtualClock

from ._scripted_watch import Remote, S, codes, collect, rejection, throttled, watcher


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
