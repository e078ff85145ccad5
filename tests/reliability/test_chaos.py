"""Chaos: 300 numbers through ``provision_many`` with a journal, against a sandbox injecting
seeded faults of every kind its ``FaultConfig`` has, at 5% and at 15% of requests per kind.

The kinds: dropped connections (before the server does anything), 500/503 answers, 429s
(``throttle_rate``), bodies cut short *after* the server did the work (a create that the
client cannot know happened), and latency: every request waits a random time, longer than
the client's timeout for the same fraction of requests, so those time out while the server
goes on and does the work anyway. At 15% about half of all requests fail one way or another.

Outcome: every number not scripted to fail ends READY with its profile and photo, the
scripted ones end failed with the reason (a ``DeploymentFailed``); no number is created twice
(counted by the sandbox); no exception escapes the run, and no number fails with anything but
a ``WhatsAppManagerError``; and a second run on the journal has only the failed numbers left
to do. The figures of the latest run are in the
README's Reliability section (``pytest tests/reliability/test_chaos.py -s`` prints them).

Time. The sandbox's stages, the watchers' clock and the client's waits (retry backoff and
pauses, its ``sleep``) run 120 times faster than real time, so a run takes seconds. Only the
latency and the client's timeout are real time (a quarter of a second: 30 sandbox seconds, a
slow network, as a fault should be), which is why the clock runs no faster: the OTP step's
five minutes before a resend must stay long next to one request. For the same reason the
injected 429s ask for ``Retry-After: 0``: the sandbox counts it in whole real seconds, and one
is two sandbox minutes here.

Rate control. A default client learns that 429s injected at random are noise (they keep
their share when it slows down; ``tests/reliability/test_random_429s.py`` and the
``provision()`` fault test run default clients through them), but learning takes about a
hundred answers at a cautious rate: here, where a real second is two sandbox minutes, that is
long enough next to the OTP's five-minute windows that a number could time out waiting, which
is not what this suite tests. The client is given a floor its account is known to take
(``rate_control=RateControl(min_rate=...)``), as on a network whose proxies answer 429s.

The faults' draws are seeded, but which request gets which draw depends on the order in which
concurrent requests arrive: the counts vary a little from run to run, the outcome never does.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import web

from wamanager import (
    DeploymentRequest,
    JWTAuth,
    Onboarding,
    PollPolicy,
    Profile,
    RateControl,
    WhatsAppManager,
    provision,
    provision_many,
)
from wamanager._provisioning import PROVISION_RETRIES
from wamanager._states import DeploymentState as S
from wamanager.sandbox import FaultConfig, SandboxConfig, Scenario

from .._served import SandboxTime
from ._support import Handler, serve

SPEED = 120.0
NUMBERS = 300
#: Numbers scripted to fail: ERROR at CREATING_CLUSTER, "Invalid vname certificate".
SCRIPTED = frozenset(f"4477009{n:05d}" for n in range(0, NUMBERS, 30))
#: The client's timeout for one attempt (real seconds).
TIMEOUT = 0.25
#: The floor of the client's rate (requests per second of its limiter, whose waits run at the
#: sandbox's pace): the rate the account is known to take.
MIN_RATE = 500.0
PROFILE = Profile(about="Chaos bakery", vertical="Restaurant")
PHOTO = "https://cdn.example.com/chaos.png"


def number(n: int) -> str:
    """The ``n``-th number of the run (national part)."""
    return f"77009{n:05d}"


def onboardings() -> list[Onboarding]:
    """The run's 300 numbers, each with the profile and photo."""
    return [
        Onboarding(
            DeploymentRequest(
                country_code="44", number=number(n), vname_certificate="cert", waba_id="1"
            ),
            profile=PROFILE,
            photo_url=PHOTO,
        )
        for n in range(NUMBERS)
    ]


@attrs.define
class Census:
    """A middleware in front of the sandbox: what each API request met, seen from outside.

    ``drop``: the connection was closed without an answer; ``5xx``, ``429``: injected
    answers; ``cut``: a success whose body is not JSON (the handler ran); ``late``: answered
    after the client's timeout (the handler ran, the client had given up).
    """

    met: Counter[str] = attrs.Factory(Counter)
    requests: int = 0

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v0.1/"):
            return await handler(request)
        self.requests += 1
        started = time.monotonic()
        response = await handler(request)
        if time.monotonic() - started > TIMEOUT:
            self.met["late"] += 1  # the client has closed the connection: not a drop
        elif request.transport is None or request.transport.is_closing():
            self.met["drop"] += 1
        elif response.status >= 500 or response.status == 429:
            body = response.body if isinstance(response, web.Response) else b""
            if b"injected" in bytes(body or b""):
                self.met["5xx" if response.status >= 500 else "429"] += 1
        elif isinstance(response, web.Response) and 200 <= response.status < 300:
            try:
                json.loads(bytes(response.body or b"{}"))
            except ValueError:
                self.met["cut"] += 1
        return response


def chaos_config(rate: float) -> SandboxConfig:
    """A sandbox injecting ``rate`` of each fault kind, the scripted numbers failing."""
    return SandboxConfig(
        speed=SPEED,
        seed=int(rate * 1000),
        rate_limit=None,
        scenarios=tuple(Scenario(msisdn, fail_at=S.CREATING_CLUSTER) for msisdn in SCRIPTED),
        faults=FaultConfig(
            drop_rate=rate,
            error_rate=rate,
            throttle_rate=rate,
            malformed_rate=rate,
            # Uniform latency; the share of it beyond the client's timeout is ``rate``.
            latency=(0.0, TIMEOUT / (1 - rate)),
            throttle_retry_after=0,
        ),
    )


def scaled_sleep(seconds: float) -> Any:
    """The client's waits (retry backoff, ``Retry-After``) at the sandbox's pace."""
    return anyio.sleep(max(seconds, 0.0) / SPEED)


@pytest.fixture
def results() -> Iterator[dict[str, Any]]:
    """Where each run leaves its figures; printed at the end (``-s`` shows them)."""
    figures: dict[str, Any] = {}
    yield figures
    print(json.dumps(figures, indent=1))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("rate", [0.05, 0.15], ids=["5%", "15%"])
async def test_every_number_ends_right_whatever_the_faults(
    rate: float, tmp_path: Path, results: dict[str, Any]
) -> None:
    """300 numbers, faults of every kind at ``rate`` each: the unscripted READY with their
    profile and photo, the scripted failed, none created twice, nothing but library errors."""
    census = Census()
    journal = tmp_path / "chaos.sqlite"
    async with serve(chaos_config(rate), census) as sandbox:
        assert sandbox.private_key_pem is not None
        auth = JWTAuth(sandbox.application_id, sandbox.private_key_pem)
        async with WhatsAppManager(
            base_url=sandbox.base_url,
            auth=auth,
            timeout=TIMEOUT,
            sleep=scaled_sleep,
            rate_control=RateControl(min_rate=MIN_RATE),
        ) as wam:
            options: dict[str, Any] = {
                "otp": sandbox.otp_provider,
                "journal": journal,
                "concurrency": 100,
                "clock": SandboxTime(sandbox.clock),
                "policy": PollPolicy(interval=2.0, jitter=0.1),
            }
            started = time.monotonic()
            try:
                report = await provision_many(wam, onboardings(), **options)
            except Exception as escaped:  # a number's failure is its outcome, never a raise
                pytest.fail(f"an exception escaped the run: {escaped!r}")
            elapsed = time.monotonic() - started
            again = await provision_many(wam, onboardings(), **options)
        creates = sandbox.stats().creates
        deployments = {dep.msisdn: dep for dep in sandbox.engine}
    results[f"{rate:.0%}"] = {
        "numbers": NUMBERS,
        "scripted to fail": len(SCRIPTED),
        "ready": report.counts.get("ready", 0),
        "requests": census.requests,
        "faults": dict(census.met),
        "duplicates": sum(count - 1 for count in creates.values()),
        "seconds": round(elapsed, 1),
    }
    failed = {outcome.msisdn: outcome for outcome in report.failed}
    unexpected = Counter(
        (o.step, o.error_type, (o.error or "")[:150])
        for k, o in failed.items()
        if k not in SCRIPTED
    )
    assert set(failed) == set(SCRIPTED), "\n".join(map(str, unexpected.most_common()))
    for outcome in failed.values():
        assert (outcome.step, outcome.error_type) == ("watch", "DeploymentFailed")
    assert report.counts == {"ready": NUMBERS - len(SCRIPTED), "failed": len(SCRIPTED)}
    assert set(creates.values()) == {1}
    assert len(creates) == NUMBERS
    check_sandbox(deployments)
    # Every kind of fault happened, at about the rate asked (drops come first in the draws).
    assert min(census.met[kind] for kind in ("drop", "5xx", "429", "cut", "late")) > 0
    assert census.met["drop"] >= rate * census.requests / 2
    # The journal knows every number's end: a second run does nothing but the failed ones.
    assert {o.msisdn for o in again.outcomes if o.resumed} == {o.msisdn for o in report.ready}


def check_sandbox(deployments: dict[str, Any]) -> None:
    """The unscripted numbers are READY with the profile and photo; the others in ERROR."""
    profile = {"about": PROFILE.about, "vertical": "Restaurant"}
    for msisdn, dep in deployments.items():
        if msisdn in SCRIPTED:
            assert dep.state is S.ERROR, msisdn
        else:
            assert (dep.state, dep.profile, dep.photo_url) == (S.READY, profile, PHOTO), msisdn


class FailFirst:
    """A middleware answering the first ``count`` requests to ``path_suffix`` with a 503."""

    def __init__(self, path_suffix: str, count: int) -> None:
        self.path_suffix, self.count, self.seen = path_suffix, count, 0

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET" and request.path.endswith(self.path_suffix):
            self.seen += 1
            if self.seen <= self.count:
                return web.json_response({"title": "Unavailable"}, status=503)
        return await handler(request)


async def test_a_replay_safe_step_outlasts_twenty_failures_in_a_row() -> None:
    """The profile step is retried through 20 transient failures in a row: at 15% of each
    fault kind half of all attempts fail, and five retries lost a step in a hundred."""
    failing = FailFirst("/profile", 20)
    async with serve(SandboxConfig(speed=SPEED, rate_limit=None), failing) as sandbox:
        assert sandbox.private_key_pem is not None
        auth = JWTAuth(sandbox.application_id, sandbox.private_key_pem)
        async with WhatsAppManager(base_url=sandbox.base_url, auth=auth, sleep=scaled_sleep) as wam:
            request = onboardings()[0].request
            deployment = await provision(
                wam,
                request,
                otp=sandbox.otp_provider,
                profile=PROFILE,
                clock=SandboxTime(sandbox.clock),
                policy=PollPolicy(interval=2.0),
            )
        stored = sandbox.engine.get(deployment.deployment_id)
    assert failing.seen == 21 == PROVISION_RETRIES + 1
    assert stored is not None
    assert stored.profile["about"] == PROFILE.about
