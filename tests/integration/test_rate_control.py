"""Adaptive rate control end to end: a default client against a rate-limited sandbox.

The sandbox is served here (not through ``run_sandbox``) so that a response hook can count,
at the server, every API answer and every 429 it sent. The OTP provider reads the sandbox
inbox over HTTP, as a person reading the SMS would.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import AsyncIterator

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
    WhatsAppManager,
    provision,
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
