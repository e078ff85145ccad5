"""provision() under injected faults of every kind, counted at the sandbox.

300 onboardings with a profile and a photo run concurrently on one default client against a
sandbox that answers 500/503 and 429 (at random, whatever the rate: the client learns they
are noise, not its account's limit), drops connections, adds latency, and cuts bodies short
after it did the work (so the client cannot know whether a create happened).

* at 5% of each kind, every one ends READY with its profile and photo, none created twice;
* at 20% of each kind, every failure is a ``ProvisioningError`` (a ``WhatsAppManagerError``)
  carrying the step and, past the create step, the deployment id; a second ``provision()``
  pass, once the outage is over, completes them all, still none created twice.

The sandbox runs at 600x, so deployments move through their stages in a fraction of a second;
the watchers poll in real time (every 50 ms), so a client slowed by the faults (retries, 429s)
never sees sandbox minutes pass between two polls. Faults come from a seeded generator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import anyio
import pytest

from wamanager import (
    Deployment,
    DeploymentRequest,
    DeploymentState,
    PollPolicy,
    Profile,
    ProvisioningError,
    WhatsAppManager,
    WhatsAppManagerError,
    provision,
)
from wamanager._clock import SYSTEM_CLOCK
from wamanager.sandbox import FaultConfig, SandboxConfig, SandboxHandle, run_sandbox
from wamanager.testing import sandbox_client

S = DeploymentState
COUNT = 300
PROFILE = Profile(about="Chaos bakery")
PHOTO = "https://cdn.example.com/logo.png"
POLICY = PollPolicy(interval=0.05, jitter=0.2)
STEPS = ("create", "watch", "verify", "profile", "photo")


def faults(share: float) -> FaultConfig:
    """``share`` of each fault kind."""
    return FaultConfig(
        error_rate=share,
        drop_rate=share,
        malformed_rate=share,
        throttle_rate=share,
        latency=(0.0, 0.005),
    )


def request(n: int) -> DeploymentRequest:
    return DeploymentRequest(
        country_code="44", number=f"7700{n:06d}", vname_certificate="CERT", waba_id="1"
    )


async def onboard_all(
    wam: WhatsAppManager, sandbox: SandboxHandle, numbers: Sequence[int]
) -> tuple[list[Deployment], list[BaseException]]:
    """Provision ``numbers`` concurrently; what came back READY, and what was raised."""
    ready: list[Deployment] = []
    raised: list[BaseException] = []

    async def one(n: int) -> None:
        try:
            ready.append(
                await provision(
                    wam,
                    request(n),
                    otp=sandbox.otp_provider,
                    profile=PROFILE,
                    photo_url=PHOTO,
                    policy=POLICY,
                )
            )
        except Exception as exc:  # everything is collected and checked below
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        for n in numbers:
            tg.start_soon(one, n)
    return ready, raised


def assert_each_created_once_and_set_up(sandbox: SandboxHandle) -> None:
    creates = Counter(dep.msisdn for dep in sandbox.engine)
    assert len(creates) == COUNT
    assert set(creates.values()) == {1}, [m for m, c in creates.items() if c > 1]
    for dep in sandbox.engine:
        assert dep.state is S.READY, (dep.msisdn, dep.state)
        assert dep.profile.get("about") == PROFILE.about
        assert dep.photo_url == PHOTO


def client(sandbox: SandboxHandle) -> WhatsAppManager:
    """The default client on real time, with retry backoff shortened to keep the test quick."""

    async def short(seconds: float) -> None:
        await anyio.sleep(min(seconds, 0.01))

    return sandbox_client(sandbox, sleep=short, clock=SYSTEM_CLOCK)


def config(share: float) -> SandboxConfig:
    # The account limit is off: this is about faults, not throttling.
    return SandboxConfig(speed=600, seed=11, faults=faults(share), rate_limit=None)


@pytest.mark.timeout(180)
async def test_at_5_percent_of_each_fault_every_onboarding_completes() -> None:
    """5% of each fault kind: all 300 READY with profile and photo, none created twice, and
    nothing raised."""
    async with run_sandbox(config(0.05)) as sandbox, client(sandbox) as wam:
        ready, raised = await onboard_all(wam, sandbox, range(COUNT))
        assert raised == []
        assert len(ready) == COUNT
        stats = sandbox.stats()
        assert stats.injected_5xx > 0
        assert_each_created_once_and_set_up(sandbox)


@pytest.mark.timeout(240)
async def test_at_20_percent_failures_carry_step_and_id_and_a_second_pass_finishes() -> None:
    """20% of each fault kind: every failure is a ProvisioningError naming its step (and the
    deployment past the create step); after the outage a second pass completes them all."""
    async with run_sandbox(config(0.20)) as sandbox, client(sandbox) as wam:
        ready, raised = await onboard_all(wam, sandbox, range(COUNT))
        assert len(ready) + len(raised) == COUNT
        for error in raised:
            assert isinstance(error, ProvisioningError), repr(error)
            assert isinstance(error, WhatsAppManagerError)
            assert error.step in STEPS
            assert isinstance(error.cause, WhatsAppManagerError)
            if error.step != "create":
                assert error.deployment_id is not None
        sandbox.set_faults(FaultConfig())  # the outage is over
        failed = [int(e.msisdn[-6:]) for e in raised if isinstance(e, ProvisioningError)]
        again, raised_again = await onboard_all(wam, sandbox, failed)
        assert raised_again == []
        assert len(again) == len(failed)
        assert_each_created_once_and_set_up(sandbox)
