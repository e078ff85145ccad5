"""PollPolicy: intervals per state and next_delay() as a table."""

from __future__ import annotations

import pytest

from wamanager import DeploymentState, PollPolicy
from wamanager.policy import DEFAULT_INTERVALS

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
        # Retry-After is a floor, even above max_interval
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 1, 7.0, 0.5, 7.0),
        ({"interval": 2.0, "jitter": 0, "max_interval": 5}, S.CODE_SENT, 1, 30.0, 0.5, 30.0),
        ({"interval": 2.0, "jitter": 0}, S.CODE_SENT, 2, 1.0, 0.5, 8.0),
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
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    """Non-positive intervals and limits, and jitter outside [0, 1], fail at construction."""
    with pytest.raises(ValueError):  # noqa: PT011 - attrs' own messages vary by validator
        PollPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_frozen() -> None:
    """A policy is a value: it cannot be changed in place."""
    policy = PollPolicy()
    with pytest.raises(AttributeError):
        policy.interval = 1.0  # type: ignore[misc]
