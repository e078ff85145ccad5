"""The watcher's pure decisions: PollPolicy.next_delay() and next_otp_action() as tables."""

from __future__ import annotations

import json

import pytest

from wamanager import (
    DeploymentState,
    GiveUp,
    OTPMethod,
    OTPPolicy,
    OTPProgress,
    PollPolicy,
    Resend,
    ValidationError,
    Verify,
    Wait,
    next_otp_action,
)
from wamanager._policy import DEFAULT_INTERVALS
from wamanager._retry import capped_retry_after

S = DeploymentState


def test_uniform_interval_applies_to_every_state() -> None:
    """PollPolicy(interval=0.05) polls every state, known or not, every 50 ms."""
    policy = PollPolicy(interval=0.05, jitter=0)
    for state in [*S, S("PAUSED"), None]:
        assert policy.next_delay(state) == pytest.approx(0.05)


def test_defaults_are_slow_while_building_and_fast_near_the_end() -> None:
    """The built-in intervals poll cluster creation slower than the OTP and finishing stages."""
    policy = PollPolicy()
    assert policy.interval_for(S.CREATING_CLUSTER) == DEFAULT_INTERVALS[S.CREATING_CLUSTER]
    assert policy.interval_for(S.CREATING_CLUSTER) > policy.interval_for(S.CODE_SENT)
    assert policy.interval_for(S.CODE_VERIFIED) < policy.interval_for(S.INITIALIZING)


def test_per_state_overrides_win_over_the_default_interval() -> None:
    """intervals= overrides single states; interval= covers the rest."""
    policy = PollPolicy(interval=1.0, intervals={"CREATING_CLUSTER": 30})
    assert policy.interval_for(S.CREATING_CLUSTER) == 30
    assert policy.interval_for(S.CODE_SENT) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "state", "errors", "retry_after", "random", "expected"),
    [
        # no jitter at random=0.5, whatever the jitter fraction
        ({"interval": 2.0}, S.CODE_SENT, 0, None, 0.5, 2.0),
        # jitter bounds: ±10% by default
        ({"interval": 2.0}, S.CODE_SENT, 0, None, 0.0, 1.8),
        ({"interval": 2.0}, S.CODE_SENT, 0, None, 1.0, 2.2),
        # exponential backoff on consecutive errors
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 1, None, 0.5, 4.0),
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 3, None, 0.5, 16.0),
        # capped by max_interval
        ({"interval": 2.0, "jitter": 0, "max_interval": 10}, S.CODE_SENT, 5, None, 0.5, 10.0),
        ({"interval": 20.0, "jitter": 0.5, "max_interval": 10}, S.CODE_SENT, 0, None, 1.0, 10.0),
        # Retry-After is a floor, even above max_interval, stretched by up to 10%
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 1, 7.0, 0.0, 7.0),
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 1, 7.0, 0.5, 7.35),
        ({"interval": 2.0, "jitter": 0, "max_interval": 5}, S.CODE_SENT, 1, 30.0, 0.0, 30.0),
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 2, 1.0, 0.5, 8.0),
        # ... and capped at max_retry_after (60 s by default): 999999 s is not honoured
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 1, 999999.0, 0.0, 60.0),
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 1, 999999.0, 0.99, 65.94),
        ({"jitter": 0, "max_retry_after": 5}, S.CODE_SENT, 0, 30.0, 0.0, 5.0),
        # per-state defaults
        ({"jitter": 0}, S.CREATING_CLUSTER, 0, None, 0.5, DEFAULT_INTERVALS[S.CREATING_CLUSTER]),
        ({"jitter": 0}, None, 0, None, 0.5, 5.0),
    ],
)
def test_next_delay(
    kwargs: dict[str, float],
    state: DeploymentState | None,
    errors: int,
    retry_after: float | None,
    random: float,
    expected: float,
) -> None:
    """next_delay() combines the state's interval, backoff, jitter, the cap and Retry-After."""
    policy = PollPolicy(**kwargs)  # type: ignore[arg-type]
    delay = policy.next_delay(state, errors=errors, retry_after=retry_after, random=random)
    assert delay == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": 0},
        {"interval": -1},
        {"jitter": 1.5},
        {"deadline": 0},
        {"stuck_after": -3},
        {"backoff": 0.5},
        {"interval": "1"},
        {"interval": float("nan")},
        {"max_retry_after": 0},
        {"intervals": {"CODE_SENT": -1}},
        {"intervals": 5},
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    """Non-positive intervals and limits, and jitter outside [0, 1], fail with a
    ValidationError naming the field."""
    with pytest.raises(ValidationError) as caught:
        PollPolicy(**kwargs)  # type: ignore[arg-type]
    assert caught.value.fields == tuple(kwargs)


def test_policy_is_frozen() -> None:
    """A policy is a value: it cannot be changed in place."""
    policy = PollPolicy()
    with pytest.raises(AttributeError):
        policy.interval = 1.0  # type: ignore[misc]


# --- the OTP step ------------------------------------------------------------------------

P = OTPPolicy(max_verify_attempts=3, max_resends=2, resend_after=300.0)
VOICE = OTPPolicy(max_resends=2, resend_after=300.0, fallback_to_voice=True)


@pytest.mark.parametrize(
    ("policy", "progress", "state", "now", "method", "expected"),
    [
        # nothing to do outside CODE_SENT / WRONG_CODE, or once verified
        (P, OTPProgress(), S.CREATING_CLUSTER, 0.0, None, Wait()),
        (P, OTPProgress(), S.READY, 0.0, None, Wait()),
        (P, OTPProgress(verified=True, code_since=0.0), S.CODE_SENT, 0.0, None, Wait()),
        # a code is awaited: ask the provider (and verify what comes)
        (P, OTPProgress(), S.CODE_SENT, 10.0, None, Verify()),
        (P, OTPProgress(code_since=0.0), S.CODE_SENT, 299.9, None, Verify()),
        (P, OTPProgress(code_since=0.0, rejected=2), S.WRONG_CODE, 10.0, None, Verify()),
        # too many rejected codes
        (P, OTPProgress(code_since=0.0, rejected=3), S.WRONG_CODE, 10.0, None, GiveUp("rejected")),
        # no code within resend_after: resend by the deployment's method, or by voice
        (P, OTPProgress(code_since=0.0), S.CODE_SENT, 300.0, None, Resend(None)),
        (
            P,
            OTPProgress(code_since=0.0),
            S.CODE_SENT,
            300.0,
            OTPMethod.VOICE,
            Resend(OTPMethod.VOICE),
        ),
        (
            VOICE,
            OTPProgress(code_since=0.0),
            S.CODE_SENT,
            300.0,
            OTPMethod.SMS,
            Resend(OTPMethod.VOICE),
        ),
        (P, OTPProgress(code_since=0.0, resends=1), S.WRONG_CODE, 301.0, None, Resend(None)),
        # ... up to max_resends, then give up
        (P, OTPProgress(code_since=0.0, resends=2), S.CODE_SENT, 300.0, None, GiveUp("no_code")),
        # a 429 cools the OTP step down: wait until then, whatever else is due
        (P, OTPProgress(code_since=0.0, cooldown_until=50.0), S.CODE_SENT, 20.0, None, Wait(50.0)),
        (
            P,
            OTPProgress(code_since=0.0, cooldown_until=350.0),
            S.CODE_SENT,
            320.0,
            None,
            Wait(350.0),
        ),
        (P, OTPProgress(code_since=0.0, cooldown_until=50.0), S.CODE_SENT, 50.0, None, Verify()),
        # an unknown state is not actionable
        (P, OTPProgress(), S("PAUSED"), 0.0, None, Wait()),
    ],
)
def test_next_otp_action(
    policy: OTPPolicy,
    progress: OTPProgress,
    state: DeploymentState,
    now: float,
    method: OTPMethod | None,
    expected: object,
) -> None:
    """next_otp_action() decides verify, resend, wait or give up from the progress alone."""
    assert next_otp_action(policy, progress, state, now, method=method) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_verify_attempts": 0},
        {"max_verify_attempts": 1.5},
        {"max_resends": -1},
        {"max_resends": True},
        {"resend_after": 0},
        {"resend_after": "300"},
        {"fallback_to_voice": "yes"},
    ],
)
def test_invalid_otp_policies_are_rejected(kwargs: dict[str, object]) -> None:
    """Bad OTP limits fail at construction with a ValidationError naming the field."""
    with pytest.raises(ValidationError) as caught:
        OTPPolicy(**kwargs)  # type: ignore[arg-type]
    assert caught.value.fields == tuple(kwargs)


def test_progress_round_trips_through_json() -> None:
    """OTPProgress survives json.dumps/json.loads unchanged (what a journal stores)."""
    progress = OTPProgress(
        codes_requested=2,
        rejected=1,
        resends=1,
        awaiting=True,
        code_since=1700000000.5,
        cooldown_until=1700000030.0,
        pending="verify",
        pending_since=1700000001.0,
    )
    assert OTPProgress.from_json(json.loads(json.dumps(progress.to_json()))) == progress
    assert OTPProgress.from_json({"resends": 1, "future_field": 3}) == OTPProgress(resends=1)


def test_progress_from_json_rejects_wrong_types() -> None:
    """A corrupt record is a ValidationError naming each bad field, not a crash later."""
    with pytest.raises(ValidationError) as caught:
        OTPProgress.from_json({"resends": "2", "verified": 1, "pending": "delete"})
    assert set(caught.value.fields) == {"resends", "verified", "pending"}


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        # a resend that may have happened counts as made, and restarts the resend timer
        ("resend", OTPProgress(resends=2, code_since=90.0)),
        # a verify that may have happened is settled by the next poll
        ("verify", OTPProgress(resends=1, code_since=10.0)),
        (None, OTPProgress(resends=1, code_since=10.0, awaiting=True)),
    ],
)
def test_resumed_progress_settles_a_pending_call(
    pending: str | None, expected: OTPProgress
) -> None:
    """A call left in flight by a crash is taken as made (resend) or left to the poll (verify)."""
    progress = OTPProgress(
        resends=1,
        code_since=10.0,
        awaiting=True,
        pending=pending,
        pending_since=None if pending is None else 90.0,
    )
    assert progress.resumed() == expected


@pytest.mark.parametrize(
    ("retry_after", "cap", "random", "expected"),
    [
        (5.0, 60.0, 0.0, 5.0),
        (5.0, 60.0, 0.5, 5.25),
        (999999.0, 60.0, 0.0, 60.0),
        (-3.0, 60.0, 0.5, 0.0),
    ],
)
def test_capped_retry_after(retry_after: float, cap: float, random: float, expected: float) -> None:
    """Retry-After is capped, never negative, and only ever stretched (by up to 10%)."""
    assert capped_retry_after(retry_after, cap, random) == pytest.approx(expected)
