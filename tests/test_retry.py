"""Retry decisions as tables, and the number of attempts the client really makes."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import attrs
import pytest

from wamanager import (
    ConnectionFailed,
    NotFound,
    NumberInUse,
    RetryPolicy,
    ServerError,
    StateConflict,
    Throttled,
    UnexpectedResponse,
    ValidationError,
    WhatsAppManager,
    WhatsAppManagerError,
)
from wamanager._rate_control import Phase
from wamanager._retry import (
    REPLAY_SAFE_METHODS,
    RETRYABLE_STATUSES,
    Failure,
    backoff_delay,
    parse_retry_after,
    retry_delay,
    should_retry,
    throttle_wait,
    within_throttle_budget,
)
from wamanager.testing import FakeAPI, SleepRecorder

from ._support import DEP, EXISTING, OPS, deployment_request, refused_url

# --- should_retry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "replay_safe", "expected"),
    [
        # replay-safe requests: every transient failure
        (Failure.STATUS, 429, True, True),
        (Failure.STATUS, 500, True, True),
        (Failure.STATUS, 502, True, True),
        (Failure.STATUS, 503, True, True),
        (Failure.STATUS, 504, True, True),
        (Failure.STATUS, 501, True, False),
        (Failure.STATUS, 400, True, False),
        (Failure.STATUS, 401, True, False),
        (Failure.STATUS, 404, True, False),
        (Failure.STATUS, 409, True, False),
        (Failure.STATUS, 422, True, False),
        (Failure.CONNECT, None, True, True),
        (Failure.DISCONNECTED, None, True, True),
        (Failure.TIMEOUT, None, True, True),
        (Failure.MALFORMED, None, True, True),
        # other POSTs: only when the request surely never reached the server
        (Failure.STATUS, 429, False, True),
        (Failure.CONNECT, None, False, True),
        (Failure.STATUS, 500, False, False),
        (Failure.STATUS, 503, False, False),
        (Failure.DISCONNECTED, None, False, False),
        (Failure.TIMEOUT, None, False, False),
        (Failure.MALFORMED, None, False, False),
        (Failure.STATUS, 404, False, False),
    ],
)
def test_should_retry_table(
    failure: Failure, status: int | None, replay_safe: bool, expected: bool
) -> None:
    """Which failures are retried, for replay-safe requests and for other POSTs."""
    got = should_retry(
        attempt=1, max_retries=2, failure=failure, status=status, replay_safe=replay_safe
    )
    assert got is expected


@pytest.mark.parametrize(
    ("attempt", "max_retries", "expected"),
    [(1, 0, False), (1, 1, True), (2, 1, False), (2, 2, True), (3, 2, False), (5, 10, True)],
)
def test_should_retry_stops_after_max_retries(
    attempt: int, max_retries: int, expected: bool
) -> None:
    """Attempt n may be followed by another only while n <= max_retries."""
    got = should_retry(
        attempt=attempt,
        max_retries=max_retries,
        failure=Failure.CONNECT,
        replay_safe=True,
    )
    assert got is expected


def test_retryable_statuses_and_safe_methods() -> None:
    """The retryable statuses are 429 and 500/502/503/504; POST is not replay-safe by default."""
    assert frozenset({429, 500, 502, 503, 504}) == RETRYABLE_STATUSES
    assert "POST" not in REPLAY_SAFE_METHODS
    assert {"GET", "DELETE", "PATCH"} <= REPLAY_SAFE_METHODS


# --- Retry-After -------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("120", 120.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        ("Wed, 01 May 2024 12:01:00 GMT", 60.0),
        ("Wed, 01 May 2024 11:59:00 GMT", 0.0),  # in the past: no wait
        ("Wed, 01 May 2024 12:00:10", 10.0),  # no zone: read as UTC
        ("Wed, 32 May 2024 12:00:10 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Retry-After is read as delta-seconds or an HTTP-date, never negative, None if unreadable."""
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("retry_after", "random", "expected"),
    [
        (7.0, 0.0, 7.0),
        (7.0, 0.9, 7.0 * 1.09),  # jittered upwards by up to 10%, never shortened
        (60.0, 0.5, 60.0 * 1.05),
        (3600.0, 0.0, 60.0),  # capped first
        (999999.0, 0.999, 60.0 * 1.0999),
        (0.0, 0.7, 0.0),
        (None, 0.0, 1.0),  # a 429 without Retry-After: one second
        (None, 0.5, 1.05),
    ],
)
def test_throttle_wait_table(retry_after: float | None, random: float, expected: float) -> None:
    """Retry-After is capped at max_retry_after, then lengthened by up to 10% at random."""
    policy = RetryPolicy(max_retry_after=60.0)
    assert throttle_wait(retry_after, policy, random) == pytest.approx(expected)
    if retry_after is not None:
        assert retry_delay(3, policy, retry_after=retry_after, random=random) == pytest.approx(
            expected
        )


@pytest.mark.parametrize(
    ("spent", "wait", "budget", "allowed"),
    [
        (0.0, 1.0, 120.0, True),
        (119.0, 1.0, 120.0, True),
        (119.0, 1.1, 120.0, False),
        (0.0, 61.0, 60.0, False),
        (0.0, 0.0, 0.0, True),  # a zero wait still fits a zero budget
        (0.0, 0.5, 0.0, False),  # budget 0: never wait out a 429
    ],
)
def test_within_throttle_budget_table(
    spent: float, wait: float, budget: float, allowed: bool
) -> None:
    """A call may wait out a 429 while the time spent on 429s stays within its budget."""
    assert within_throttle_budget(spent=spent, wait=wait, budget=budget) is allowed


# --- backoff -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "random", "expected"),
    [
        (1, 0.0, 0.5),
        (2, 0.0, 1.0),
        (3, 0.0, 2.0),
        (4, 0.0, 4.0),
        (5, 0.0, 8.0),
        (6, 0.0, 8.0),  # capped at max_backoff
        (50, 0.0, 8.0),
        (1, 0.5, 0.375),  # jitter 0.5 * random 0.5 shortens by a quarter
        (3, 0.999, 2.0 * (1 - 0.5 * 0.999)),
        (6, 0.999, 8.0 * (1 - 0.5 * 0.999)),
    ],
)
def test_backoff_table(attempt: int, random: float, expected: float) -> None:
    """Backoff is initial * multiplier ** (attempt - 1), capped, shortened by jitter * random."""
    policy = RetryPolicy(initial_backoff=0.5, multiplier=2.0, max_backoff=8.0, jitter=0.5)
    assert backoff_delay(attempt, policy, random) == pytest.approx(expected)
    assert retry_delay(attempt, policy, retry_after=None, random=random) == pytest.approx(expected)


@pytest.mark.parametrize("jitter", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 8])
def test_backoff_stays_within_bounds(attempt: int, jitter: float) -> None:
    """For any random in [0, 1), the wait lies in ((1 - jitter) * ceiling, ceiling]."""
    policy = RetryPolicy(initial_backoff=0.25, multiplier=3.0, max_backoff=5.0, jitter=jitter)
    ceiling = min(5.0, 0.25 * 3.0 ** (attempt - 1))
    for i in range(100):
        delay = backoff_delay(attempt, policy, i / 100)
        assert ceiling * (1 - jitter) - 1e-12 <= delay <= ceiling
    assert backoff_delay(attempt, policy, 0.0) == pytest.approx(ceiling)


@pytest.mark.parametrize(
    "changes",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"max_retries": 101},
        {"initial_backoff": -0.1},
        {"initial_backoff": "1"},
        {"max_backoff": -1},
        {"max_backoff": math.inf},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"max_retry_after": -1},
        {"max_retry_after": math.nan},
        {"retry_after_jitter": 2.0},
    ],
)
def test_retry_policy_rejects_bad_values(changes: dict[str, Any]) -> None:
    """RetryPolicy raises ValidationError (a WhatsAppManagerError) naming the bad field."""
    with pytest.raises(ValidationError) as caught:
        RetryPolicy(**changes)
    assert caught.value.fields == tuple(changes)
    assert isinstance(caught.value, WhatsAppManagerError)


def test_retry_policy_is_frozen() -> None:
    """RetryPolicy cannot be changed in place; evolve makes a changed copy."""
    policy = RetryPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.max_retries = 5  # type: ignore[misc]
    assert attrs.evolve(policy, max_retries=5).max_retries == 5
    assert policy.max_retries == 2


# --- attempts the client makes -----------------------------------------------------------


async def test_two_503_then_success_takes_three_attempts(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """503, 503, 200 with max_retries=2 makes 3 attempts and returns the success."""
    api.reply(503, times=2)
    api.reply(200, {"deployment_id": DEP})
    deployment = await make_client(max_retries=2).deployments.get(DEP)
    assert deployment.deployment_id == DEP
    assert len(api.requests) == 3
    assert sleeps.delays == [0.5, 1.0]  # rng 0: the full backoff


async def test_three_503_exhaust_retries(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """503 x3 with max_retries=2 raises ServerError after 3 attempts."""
    api.reply(503, {"title": "Service Unavailable"}, times=3)
    with pytest.raises(ServerError) as caught:
        await make_client(max_retries=2).deployments.get(DEP)
    assert caught.value.status == 503
    assert len(api.requests) == 3
    assert len(sleeps.delays) == 2


async def test_max_retries_zero_makes_one_attempt(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """max_retries=0 makes exactly one attempt and never sleeps."""
    api.reply(503, times=2)
    with pytest.raises(ServerError):
        await make_client(max_retries=0).deployments.get(DEP)
    assert len(api.requests) == 1
    assert sleeps.delays == []


async def test_jitter_comes_from_the_injected_rng(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """The rng= function drives the jitter, so delays are deterministic."""
    api.reply(500, times=2)
    api.reply(200, {"deployment_id": DEP})
    values = iter([0.5, 1.0])
    await make_client(rng=lambda: next(values)).deployments.get(DEP)
    assert sleeps.delays == [0.375, 0.5]


@pytest.mark.parametrize("op_id", ["verify", "resend-otp", "createStickers", "createStickerpacks"])
async def test_unsafe_post_is_not_retried_on_5xx(
    op_id: str, api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """verify, resend and sticker/pack creation make one attempt on a 503."""
    api.reply(503, times=3)
    with pytest.raises(ServerError):
        await OPS[op_id].call(client)
    assert len(api.requests) == 1
    assert sleeps.delays == []


@pytest.mark.parametrize("op_id", ["createStickers", "createStickerpacks"])
async def test_unsafe_post_is_retried_on_429(
    op_id: str, api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """Sticker and pack creation are retried after a 429 (nothing was done)."""
    op = OPS[op_id]
    api.reply(429, headers={"Retry-After": "2"})
    api.reply(op.status, op.body)
    op.check(await op.call(client))
    assert len(api.requests) == 2
    assert api.requests[0].body == api.requests[1].body


@pytest.mark.parametrize("op_id", ["verify", "resend-otp"])
async def test_otp_429_is_raised_at_once_and_slows_nothing_else(
    op_id: str, api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """A 429 to verify or resend is that deployment's OTP cool-down: Throttled at once, with
    the jittered, capped Retry-After, and the client's other calls neither wait nor slow."""
    api.reply(429, headers={"Retry-After": "999999"})
    with pytest.raises(Throttled) as caught:
        await OPS[op_id].call(client)
    assert caught.value.retry_after == 60.0  # capped (the test rng adds no jitter)
    assert len(api.requests) == 1
    limiter = client.session.limiter
    assert limiter.phase is Phase.SLOW_START
    assert limiter.estimate is None
    assert limiter.rate == pytest.approx(1e6)  # the test client's ceiling, untouched
    assert limiter.paused_until < 0  # never paused
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    assert sleeps.delays == []


async def test_429s_do_not_use_up_max_retries(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """With max_retries=0, three 429s are still waited out and the call succeeds."""
    api.reply(429, headers={"Retry-After": "1"}, times=3)
    api.reply(200, {"deployment_id": DEP})
    client = make_client(max_retries=0)
    assert (await client.deployments.get(DEP)).deployment_id == DEP
    assert len(api.requests) == 4
    assert sleeps.delays == pytest.approx([1.0, 1.0, 1.0], abs=0.05)


async def test_429_then_5xx_still_has_its_retries(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """A 503 after some 429s still gets every one of max_retries."""
    api.reply(429, headers={"Retry-After": "1"}, times=2)
    api.reply(503)
    api.reply(200, {"deployment_id": DEP})
    assert (await make_client(max_retries=1).deployments.get(DEP)).deployment_id == DEP
    assert len(api.requests) == 4


@pytest.mark.parametrize("op_id", ["verify", "resend-otp", "createStickers", "createStickerpacks"])
async def test_unsafe_post_is_retried_on_connection_refused(
    op_id: str, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """A POST that could not even connect is retried max_retries times, then ConnectionFailed."""
    client = make_client(base_url=refused_url(), max_retries=2)
    with pytest.raises(ConnectionFailed):
        await OPS[op_id].call(client)
    assert sleeps.delays == [0.5, 1.0]


@pytest.mark.parametrize("op_id", ["verify", "createStickers"])
async def test_unsafe_post_is_not_retried_after_a_dropped_connection(
    op_id: str, api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """A POST whose connection dropped after sending is not sent again (it may have acted)."""
    api.drop()
    with pytest.raises(ConnectionFailed):
        await OPS[op_id].call(client)
    assert len(api.requests) == 1
    assert sleeps.delays == []


async def test_get_is_retried_after_a_dropped_connection(
    api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """A GET whose connection dropped is retried by wamanager and succeeds.

    aiohttp resends an idempotent request once by itself after a drop, so two drops are
    needed to reach wamanager's retry (which sleeps; aiohttp's does not).
    """
    api.drop()
    api.drop()
    api.reply(200, {"deployment_id": DEP})
    assert (await client.deployments.get(DEP)).deployment_id == DEP
    assert len(api.requests) == 3
    assert sleeps.delays


async def test_create_deployment_is_replay_safe(
    api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """POST /deployments is retried on 5xx; a repeat answering number-in-use names the id."""
    api.reply(502)
    api.reply(
        409,
        {
            "type": "https://developer.vonage.com/api-errors/whatsapp-provisioning#number-in-use",
            "title": "Number already in use",
            "detail": f"Active deployment already exists with id {EXISTING}",
            "instance": "t",
        },
    )
    with pytest.raises(NumberInUse) as caught:
        await client.deployments.create(deployment_request())
    assert caught.value.existing_deployment_id == EXISTING
    assert len(api.requests) == 2
    assert api.requests[0].body == api.requests[1].body


async def test_create_deployment_is_retried_after_a_dropped_connection(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """POST /deployments is retried even when the connection dropped after sending."""
    api.drop()
    api.reply(202, {"deployment_id": DEP})
    assert (await client.deployments.create(deployment_request())).deployment_id == DEP
    assert len(api.requests) == 2


async def test_retried_delete_may_answer_state_conflict(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """A DELETE retried after a 503 whose first attempt took effect surfaces StateConflict.

    Pinned as is: DELETE is replay-safe in effect, but the repeat reports the deployment as
    already DELETING (409 #conflict-deployment-state), which callers must tolerate.
    """
    api.reply(503)
    api.reply(
        409,
        {
            "type": "https://developer.vonage.com/api-errors/whatsapp-provisioning#conflict-deployment-state",
            "title": "Conflict",
            "detail": "Deployment cannot be deleted because it is in the DELETING state.",
            "instance": "t",
        },
    )
    with pytest.raises(StateConflict):
        await client.deployments.delete(DEP)
    assert [r.method for r in api.requests] == ["DELETE", "DELETE"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_never_retried(
    status: int, api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """4xx answers other than 429 are raised after one attempt."""
    api.reply(status, times=3)
    with pytest.raises(Exception, match=str(status)):
        await client.deployments.get(DEP)
    assert len(api.requests) == 1
    assert sleeps.delays == []


async def test_429_waits_the_retry_after_seconds(
    api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """A 429 with Retry-After: 7 waits 7 s (through the injected sleep), once, then retries."""
    api.reply(429, headers={"Retry-After": "7"})
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    assert len(api.requests) == 2
    assert len(sleeps.delays) == 1
    assert sleeps.delays[0] == pytest.approx(7.0, abs=0.05)


async def test_429_retry_after_is_capped(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """A Retry-After longer than max_retry_after waits only max_retry_after."""
    api.reply(429, headers={"Retry-After": "3600"})
    api.reply(200, {"deployment_id": DEP})
    await make_client(retry=RetryPolicy(max_retry_after=10.0)).deployments.get(DEP)
    assert len(sleeps.delays) == 1
    assert sleeps.delays[0] == pytest.approx(10.0, abs=0.05)


async def test_throttle_budget_exhausted_raises_throttled(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """With a 5 s budget and Retry-After 2, two waits fit and the third 429 is raised."""
    api.reply(429, headers={"Retry-After": "2"}, times=5)
    with pytest.raises(Throttled) as caught:
        await make_client(throttle_budget=5.0).deployments.get(DEP)
    assert caught.value.retry_after == 2.0
    assert caught.value.headers["Retry-After"] == "2"
    assert len(api.requests) == 3
    assert sleeps.delays == pytest.approx([2.0, 2.0], abs=0.05)


async def test_with_options_throttle_budget_applies_to_that_copy_only(
    api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """with_options(throttle_budget=0) raises the first 429; the client waits it out."""
    api.reply(429, headers={"Retry-After": "1"})
    with pytest.raises(Throttled):
        await client.with_options(throttle_budget=0).deployments.get(DEP)
    api.reply(429, headers={"Retry-After": "1"})
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    assert len(api.requests) == 3


async def test_account_429_lowers_the_learned_rate(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A 429 on any other operation is the account limit: the client's rate comes down."""
    client = make_client(rate_limit=None)
    limiter = client.session.limiter
    api.reply(200, {"deployment_id": DEP}, times=3)
    for _ in range(3):
        await client.deployments.get(DEP)
    api.reply(429, headers={"Retry-After": "1"})
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    assert limiter.rate < 10.0  # from the initial 10/s
    assert limiter.paused_until > 0  # every call of the client waited out the pause


async def test_503_retry_after_is_honoured(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """A 503 with Retry-After waits that long (jittered upwards) rather than the backoff."""
    api.reply(503, headers={"Retry-After": "3"})
    api.reply(200, {"deployment_id": DEP})
    await make_client(rng=lambda: 0.5).deployments.get(DEP)
    assert sleeps.delays == [pytest.approx(3.15)]


async def test_malformed_success_is_retried_for_get_only(
    api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """A 200 that is not JSON is retried for a GET, and not for verify."""
    api.reply(200, text="<html>", content_type="text/html")
    api.reply(200, {"deployment_id": DEP})
    assert (await client.deployments.get(DEP)).deployment_id == DEP
    api.reply(201, text="<html>", content_type="text/html")
    with pytest.raises(UnexpectedResponse):
        await client.otp.verify(DEP, "123456")
    assert len(api.requests) == 3


async def test_with_options_max_retries_applies_to_that_copy_only(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """with_options(max_retries=0) makes one attempt; the original client still retries."""
    api.reply(503)
    api.reply(404)
    with pytest.raises(ServerError):
        await client.with_options(max_retries=0).deployments.get(DEP)
    assert len(api.requests) == 1
    with pytest.raises(NotFound):
        await client.deployments.get(DEP)
    assert len(api.requests) == 2
