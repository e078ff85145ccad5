"""Adaptive rate control: the pure decisions as tables, then end to end, a default client
against a rate-limited sandbox.

The sandbox is served here (not through ``run_sandbox``) so that a response hook can count,
at the server, every API answer and every 429 it sent. The OTP provider reads the sandbox
inbox over HTTP, as a person reading the SMS would.
"""

from __future__ import annotations

import collections
import contextlib
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
from aiohttp import web

from wamanager import (
    Deployment,
    DeploymentRequest,
    DeploymentState,
    JWTAuth,
    PollPolicy,
    Profile,
    Throttled,
    ValidationError,
    WhatsAppManager,
    provision,
)
from wamanager._rate_control import (
    RateControl,
    RateDecrease,
    accepted_rate,
    cubic_rate,
    is_fresh_throttle,
    rate_after_throttle,
    slow_start_rate,
)
from wamanager.sandbox import API_PREFIX, SandboxConfig, create_app, generate_application


@attrs.define
class CountingSandbox:
    """A sandbox on a loopback port that counts the API answers it sends, by status."""

    base_url: str
    root_url: str
    auth: JWTAuth
    statuses: collections.Counter[int] = attrs.field(factory=collections.Counter)

    @property
    def requests(self) -> int:
        """API requests answered so far (the inbox is not counted)."""
        return sum(self.statuses.values())

    async def otp(self, http: aiohttp.ClientSession, deployment: Deployment) -> str | None:
        """The code in the sandbox inbox for ``deployment`` (None while none was sent)."""
        url = f"{self.root_url}/_sandbox/deployments/{deployment.deployment_id}/otp"
        async with http.get(url, headers={"Authorization": self.auth.authorization()}) as answer:
            if answer.status == 404:
                return None
            answer.raise_for_status()
            code = (await answer.json())["code"]
        assert isinstance(code, str)
        return code


@contextlib.asynccontextmanager
async def serve(config: SandboxConfig) -> AsyncIterator[CountingSandbox]:
    """Serve ``config`` (plus a generated JWT application) and count its API answers."""
    application, private_key = generate_application()
    app = create_app(attrs.evolve(config, applications=(application,)))
    sandbox: CountingSandbox | None = None

    async def count(request: web.Request, response: web.StreamResponse) -> None:
        if sandbox is not None and request.path.startswith(API_PREFIX):
            sandbox.statuses[response.status] += 1

    app.on_response_prepare.append(count)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        root = f"http://127.0.0.1:{runner.addresses[0][1]}"
        sandbox = CountingSandbox(
            base_url=root + API_PREFIX,
            root_url=root,
            auth=JWTAuth(application.application_id, private_key),
        )
        yield sandbox
    finally:
        await runner.cleanup()


#: 50 requests per real second per account, 10 at once: the issue's measured setting.
LIMIT = 50.0
BURST = 10
#: Sandbox seconds per real second: a deployment reaches READY about 3 s after its create.
SPEED = 60.0


@pytest.fixture
async def limited() -> AsyncIterator[CountingSandbox]:
    """A sandbox allowing 50 requests/s (burst 10) per account."""
    async with serve(SandboxConfig(rate_limit=LIMIT, rate_burst=BURST, speed=SPEED)) as sandbox:
        yield sandbox


def request(i: int) -> DeploymentRequest:
    """A valid deployment request for the i-th number."""
    return DeploymentRequest(
        country_code="44", number=f"77{i:08d}", vname_certificate="cert", waba_id="1"
    )


async def test_200_onboardings_with_a_default_client_all_reach_ready(
    limited: CountingSandbox,
) -> None:
    """200 concurrent provision() calls (create, OTP, READY, profile) with no rate configuration all
    finish, and fewer than 5% of the requests are answered 429."""
    ready: list[Deployment] = []
    policy = PollPolicy(interval=1.0)

    async with (
        aiohttp.ClientSession() as inbox,
        WhatsAppManager(limited.auth, base_url=limited.base_url) as wam,
    ):

        async def otp(deployment: Deployment) -> str | None:
            return await limited.otp(inbox, deployment)

        async def onboard(i: int) -> None:
            deployment = await provision(
                wam, request(i), otp=otp, profile=Profile(about=f"Shop {i}"), policy=policy
            )
            ready.append(deployment)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(200):
                    tg.start_soon(onboard, i)
        limiter = wam.session.limiter

    assert len(ready) == 200
    assert all(d.state is DeploymentState.READY for d in ready)
    assert limited.statuses[429] / limited.requests < 0.05, dict(limited.statuses)
    # 200 creates, 200 verifies and 200 profile updates, plus the polls.
    assert limited.statuses[202] == 200
    assert limited.statuses[201] == 200
    # Whatever it learned from the 429s it did get is near the limit.
    assert limiter.estimate is None or 0.5 * LIMIT <= limiter.estimate <= 1.5 * LIMIT
    assert limiter.rate <= 1.5 * LIMIT


async def test_a_burst_of_gets_is_spread_not_rejected(limited: CountingSandbox) -> None:
    """200 concurrent GETs from a fresh default client: all succeed, under 5% see a 429."""
    async with WhatsAppManager(limited.auth, base_url=limited.base_url) as wam:
        created = await wam.deployments.create(request(0))
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(200):
                    tg.start_soon(wam.deployments.get, created.deployment_id)
    assert limited.statuses[200] == 200
    assert limited.statuses[429] / limited.requests < 0.05, dict(limited.statuses)


async def test_otp_cool_down_slows_only_that_deployment(limited: CountingSandbox) -> None:
    """A resend inside the OTP cool-down raises Throttled at once; other calls carry on at
    the client's rate, which the cool-down leaves alone."""
    async with WhatsAppManager(limited.auth, base_url=limited.base_url) as wam:
        created = await wam.deployments.create(request(1))
        rate = wam.session.limiter.rate
        with anyio.fail_after(30):
            state = None
            while state is not DeploymentState.CODE_SENT:
                state = (await wam.deployments.get(created.deployment_id)).state
                await anyio.sleep(0.05)
        with pytest.raises(Throttled) as caught:
            await wam.otp.resend(created.deployment_id)
        assert caught.value.retry_after is not None
        assert caught.value.retry_after >= 1
        limiter = wam.session.limiter
        assert limiter.estimate is None  # nothing was learned from the cool-down
        assert limiter.rate >= rate
        assert limiter.paused_until <= time.monotonic()  # and nothing else waits for it


# --- the decisions, as tables ---------------------------------------------------------------

CONTROL = RateControl()


@pytest.mark.parametrize(
    ("rate", "busy", "doubling", "expected"),
    [
        (10.0, 0.0, 0.5, 10.0),
        (10.0, 0.5, 0.5, 20.0),
        (10.0, 1.0, 0.5, 40.0),
        (10.0, 0.25, 0.5, 10.0 * math.sqrt(2)),
        (3.0, 2.0, 1.0, 12.0),
    ],
)
def test_slow_start_table(rate: float, busy: float, doubling: float, expected: float) -> None:
    """Slow start doubles the rate every doubling_time seconds of queueing."""
    assert slow_start_rate(rate, busy, doubling) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (0.0, 45.0),  # starts at decrease_factor * estimate
        (1.0, 50.0 * (1 - 0.1 * (2 / 3) ** 3)),
        (2.0, 50.0 * (1 - 0.1 * (1 / 3) ** 3)),
        (3.0, 50.0),  # flat at the estimate after the recovery time
        (4.0, 50.0 * (1 + 0.1 * (1 / 3) ** 3)),  # then probes past it, slowly at first
        (6.0, 55.0),
        (9.0, 50.0 * 1.8),
    ],
)
def test_cubic_table(since: float, expected: float) -> None:
    """The cubic curve: 0.9 × estimate, a plateau at the estimate after 3 s, then probing."""
    assert cubic_rate(50.0, since, 3.0, 0.9) == pytest.approx(expected)


def test_cubic_scales_with_the_estimate() -> None:
    """A limit 100 times larger is probed 100 times faster in absolute terms, alike in shape."""
    for since in (0.0, 1.5, 3.0, 7.0):
        assert cubic_rate(5000.0, since, 3.0, 0.9) == pytest.approx(
            100 * cubic_rate(50.0, since, 3.0, 0.9)
        )


@pytest.mark.parametrize(
    ("times", "now", "since", "expected"),
    [
        # window 1 s, count 4, min window 0.25 s
        ([9.1, 9.3, 9.5, 9.7, 9.9], 10.0, -math.inf, 5.0),
        ([8.0, 8.5, 9.1, 9.3, 9.5, 9.7, 9.9], 10.0, -math.inf, 5.0),  # older ones ignored
        ([9.5, 9.9], 10.0, -math.inf, 2.0 / 1.0),  # fewer than count: still the 1 s window
        ([6.0, 7.0, 8.0, 9.0], 10.0, -math.inf, 4 / 4.0),  # slow: the last 4 answers' span
        ([9.1, 9.3, 9.5, 9.7, 9.9], 10.0, 9.5, 3 / 0.5),  # nothing counted before `since`
        ([9.9], 10.0, 9.8, None),  # 0.2 s since the pause: too short to measure
        ([], 10.0, -math.inf, 0.0),
    ],
)
def test_accepted_rate_table(
    times: list[float], now: float, since: float, expected: float | None
) -> None:
    """Accepted answers per second over 1 s (or the last answers), after the last pause."""
    got = accepted_rate(times, now=now, since=since, window=1.0, count=4, min_window=0.25)
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("rate", "accepted", "recent", "previous", "expected"),
    [
        # the estimate is the accepted rate: the rate drops to 0.9 of it
        (80.0, 50.0, 50, None, RateDecrease(45.0, 50.0, CONTROL.short_recovery)),
        # never more than what the client allowed
        (40.0, 60.0, 60, None, RateDecrease(36.0, 40.0, CONTROL.short_recovery)),
        # agrees with the previous estimate (within 25%): the limit is known, recover slowly
        (55.0, 52.0, 52, 50.0, RateDecrease(46.8, 52.0, CONTROL.long_recovery)),
        (55.0, 61.0, 61, 50.0, RateDecrease(0.9 * 55.0, 55.0, CONTROL.long_recovery)),
        # disagrees: a new estimate, recover fast
        (90.0, 80.0, 80, 50.0, RateDecrease(72.0, 80.0, CONTROL.short_recovery)),
        (40.0, 30.0, 30, 50.0, RateDecrease(27.0, 30.0, CONTROL.short_recovery)),
        # never below the minimum rate
        (
            1.0,
            0.0,
            0,
            None,
            RateDecrease(CONTROL.min_rate, CONTROL.min_rate, CONTROL.short_recovery),
        ),
        # nothing measurable in slow start (the first answers came at once): halve the rate,
        # not below what was accepted in the last second, and keep looking (no estimate)
        (10.0, None, 0, None, RateDecrease(5.0, None, CONTROL.short_recovery)),
        (40.0, None, 30, None, RateDecrease(30.0, None, CONTROL.short_recovery)),
        (10.0, None, 30, None, RateDecrease(10.0, None, CONTROL.short_recovery)),  # never up
        # nothing measurable after an estimate (just after a pause): the cut is the estimate
        (50.0, None, 0, 50.0, RateDecrease(22.5, 25.0, CONTROL.short_recovery)),
    ],
)
def test_rate_after_throttle_table(
    rate: float,
    accepted: float | None,
    recent: int,
    previous: float | None,
    expected: RateDecrease,
) -> None:
    """An account 429: the new rate, the estimate of the limit, and the recovery time."""
    got = rate_after_throttle(
        rate=rate, accepted=accepted, recent=recent, previous=previous, control=CONTROL
    )
    assert got.rate == pytest.approx(expected.rate)
    assert got.estimate == (None if expected.estimate is None else pytest.approx(expected.estimate))
    assert got.recovery == expected.recovery


@pytest.mark.parametrize(
    ("ticket", "last_decrease", "fresh"),
    [(1, 0, True), (10, 9, True), (9, 9, False), (3, 9, False)],
)
def test_is_fresh_throttle_table(ticket: int, last_decrease: int, fresh: bool) -> None:
    """Only a request released after the last decrease may decrease the rate again."""
    assert is_fresh_throttle(ticket, last_decrease) is fresh


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"initial_rate": 0}, "initial_rate"),
        ({"min_rate": -1.0}, "min_rate"),
        ({"doubling_time": math.inf}, "doubling_time"),
        ({"decrease_factor": 1.0}, "decrease_factor"),
        ({"decrease_factor": 0}, "decrease_factor"),
        ({"agreement": "0.1"}, "agreement"),
        ({"short_recovery": math.nan}, "short_recovery"),
        ({"accepted_count": True}, "accepted_count"),
    ],
)
def test_rate_control_rejects_bad_values(changes: dict[str, Any], field: str) -> None:
    """RateControl raises ValidationError naming the field for a bad constant."""
    with pytest.raises(ValidationError) as caught:
        RateControl(**changes)
    assert caught.value.fields == (field,)


def test_rate_control_is_frozen() -> None:
    """RateControl cannot be changed in place; evolve makes a changed copy."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CONTROL.initial_rate = 1.0  # type: ignore[misc]
    assert attrs.evolve(CONTROL, initial_rate=1.0).initial_rate == 1.0
