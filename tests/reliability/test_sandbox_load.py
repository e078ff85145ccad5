"""The sandbox under load: thousands of concurrent requests from several accounts, and tens of
thousands of create/delete cycles.

* 2,000 requests at once (after 400 concurrent creates) from eight accounts, over loopback
  HTTP, with 5% of them answered 500/503 by the fault injector: every other answer is the
  one the request calls for, no 5xx comes that was not injected, and no account sees, finds,
  verifies or reads the code of another's deployment.
* 20,000 create/delete cycles leave memory flat. These run on the sandbox's engine (the state
  the HTTP handlers call, one method per request) on a manual clock: 40,000 HTTP requests
  would take minutes on this machine for nothing more, since a handler keeps nothing of its
  own between requests.
"""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import attrs
from aiohttp import web

from wamanager._states import DeploymentState as S
from wamanager.sandbox import (
    Account,
    Application,
    FaultConfig,
    ManualClock,
    SandboxConfig,
    SandboxEngine,
    TokenMinter,
    generate_application,
)

from ._support import Handler, serve

ACCOUNTS = 8
CREATES = 50  # per account, before the load
LOAD = 2_000
CONTESTED = "7799000000"  # every account tries to create it; one gets it
INJECTED = ("#internal-error", "#service-unavailable")


@attrs.define
class Tenant:
    """One account: its credentials and the deployments it created."""

    api_key: str
    header: str
    own: list[str] = attrs.Factory(list)
    deleted: set[str] = attrs.Factory(set)


@attrs.define
class Answers:
    """Every answer of the load, and what was wrong with any of them."""

    statuses: Counter[int] = attrs.Factory(Counter)
    injected: int = 0
    wrong: list[str] = attrs.Factory(list)


def tenants_and_config() -> tuple[list[Tenant], SandboxConfig]:
    """Eight accounts, each with an application (one key pair, eight ids), and a sandbox that
    delays every request a little and answers 5% of them 500 or 503."""
    first, private = generate_application()
    tenants, applications = [], []
    for i in range(ACCOUNTS):
        application = Application(f"app-{i}", first.public_key, api_key=f"acct-{i}")
        applications.append(application)
        tenants.append(Tenant(f"acct-{i}", TokenMinter(application.application_id, private)()))
    config = SandboxConfig(
        accounts=tuple(Account(t.api_key, f"secret-{i}") for i, t in enumerate(tenants)),
        applications=tuple(applications),
        # Time stands still: every deployment stays in CREATING_CLUSTER (listed, never
        # READY, no code sent) however long the load takes on a busy machine.
        clock=ManualClock(),
        seed=2000,
        rate_limit=None,
        # Up to 10 ms of latency each, so that requests sent together are in the server
        # together (its handlers rarely wait on anything), and 5% of 500/503s.
        faults=FaultConfig(error_rate=0.05, latency=(0.0, 0.01)),
    )
    return tenants, config


async def test_two_thousand_concurrent_requests_from_eight_accounts() -> None:
    """2,000 requests at once from eight accounts: right answers, no 5xx but injected ones,
    and each tenant sees only its own deployments."""
    tenants, config = tenants_and_config()
    rng = random.Random(2000)
    answers = Answers()
    peak = Peak()
    async with serve(config, peak, backlog=4096) as sandbox:
        api = sandbox.base_url
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def call(
                tenant: Tenant, method: str, path: str, expected: set[int], body: Any = None
            ) -> tuple[int, Any]:
                """Send one request and check its status; the status and JSON body."""
                url = (sandbox.root_url if path.startswith("/_sandbox") else api) + path
                headers = {"Authorization": tenant.header}
                async with http.request(method, url, json=body, headers=headers) as response:
                    data = await response.json() if response.status != 204 else None
                answers.statuses[response.status] += 1
                if response.status >= 500:
                    if str(data.get("type", "")).endswith(INJECTED) and "/_sandbox" not in path:
                        answers.injected += 1
                    else:
                        answers.wrong.append(f"{method} {path}: {response.status} {data}")
                elif response.status not in expected:
                    answers.wrong.append(f"{method} {path}: {response.status}, not {expected}")
                return response.status, data

            def create(tenant: Tenant, number: str, expected: set[int]) -> Callable[[], Any]:
                async def send() -> None:
                    body = {"country_code": "44", "number": number, "waba_id": "1"}
                    body |= {"vname_certificate": "c", "method": "sms"}
                    status, data = await call(tenant, "POST", "/deployments", expected, body)
                    if status == 202:
                        tenant.own.append(data["deployment_id"])
                    outcomes.append((number, status, data))

                return send

            outcomes: list[tuple[str, int, Any]] = []
            await all_at_once(
                [
                    create(t, f"77{i:02d}{n:06d}", {202})
                    for i, t in enumerate(tenants)
                    for n in range(CREATES)
                ]
            )
            # One account gets the contested number; the others are told it is in use,
            # without the id of the deployment that holds it.
            await all_at_once([create(t, CONTESTED, {202, 409}) for t in tenants])
            contested = [(status, data) for number, status, data in outcomes if number == CONTESTED]
            held = [data["deployment_id"] for status, data in contested if status == 202]
            refusals = [str(data) for status, data in contested if status == 409]
            assert len(held) == 1
            assert refusals
            assert all(held[0] not in refusal for refusal in refusals)

            load = [
                request(rng, tenant, tenants, call)
                for _ in range(LOAD // ACCOUNTS)
                for tenant in tenants
            ]
            await all_at_once(load)
            # Afterwards, each account lists exactly its own deployments.
            for tenant in tenants:
                status, listed = await call(tenant, "GET", "/deployments", {200})
                while status != 200:  # an injected 5xx: ask again
                    status, listed = await call(tenant, "GET", "/deployments", {200})
                assert {item["api_key"] for item in listed} <= {tenant.api_key}
                assert sorted(item["deployment_id"] for item in listed) == sorted(tenant.own)
    stats = sandbox.stats()
    assert answers.wrong == []
    assert answers.injected == stats.injected_5xx > 0
    assert sum(answers.statuses.values()) >= LOAD + ACCOUNTS * (CREATES + 1)
    assert {200, 202, 204, 404, 409, 422} <= set(answers.statuses)  # every kind was answered
    assert peak.most >= 500, f"at most {peak.most} requests were in the server at once"


class Peak:
    """A middleware that counts the requests inside the server at once, and the most."""

    def __init__(self) -> None:
        self.now = self.most = 0

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await handler(request)
        finally:
            self.now -= 1


async def all_at_once(calls: list[Callable[[], Any]]) -> None:
    """Start every call at once and wait for them all."""
    async with anyio.create_task_group() as tg:
        for send in calls:
            tg.start_soon(send)


def request(
    rng: random.Random, tenant: Tenant, tenants: list[Tenant], call: Callable[..., Any]
) -> Callable[[], Any]:
    """One request of the load, drawn by ``rng``: on the tenant's own deployments or on
    another tenant's (which must be invisible), of every kind the API has."""
    other = rng.choice([t for t in tenants if t is not tenant])
    mine = rng.choice(tenant.own)
    theirs = rng.choice(other.own)
    kinds: list[tuple[str, str, set[int], Any]] = [
        ("GET", f"/deployments/{mine}", {200}, None),
        ("DELETE", f"/deployments/{mine}", {204, 409}, None),  # 409: deleted already
        ("GET", "/deployments", {200}, None),
        ("GET", f"/deployments/{theirs}", {404}, None),
        ("DELETE", f"/deployments/{theirs}", {404}, None),
        ("POST", f"/deployments/{theirs}/verify", {404}, {"code": "000000"}),
        ("POST", f"/deployments/{theirs}/resend-otp", {404}, {}),
        ("GET", f"/deployments/{theirs}/profile", {404}, None),
        ("GET", f"/_sandbox/deployments/{theirs}/otp", {404}, None),
        ("POST", f"/deployments/{mine}/verify", {422}, {"code": "000000"}),  # no code sent yet
        ("GET", f"/deployments/{mine}/profile", {404}, None),  # not READY
        ("GET", f"/_sandbox/deployments/{mine}/otp", {404}, None),  # no code yet
        ("POST", "/deployments", {422}, {"country_code": "44"}),
    ]
    method, path, expected, body = rng.choice(kinds)

    async def send() -> None:
        status, data = await call(tenant, method, path, expected, body)
        if status != 200:
            return
        if path == "/deployments":
            if {item["api_key"] for item in data} - {tenant.api_key}:
                raise AssertionError(f"{tenant.api_key} listed another account's deployment")
        elif "api_key" in data and data["api_key"] != tenant.api_key:
            raise AssertionError(f"{tenant.api_key} was shown another account's deployment")

    return send


def test_twenty_thousand_create_delete_cycles_leave_memory_flat() -> None:
    """20,000 create/delete cycles of numbers from a pool of 100, six sandbox seconds apart:
    memory after cycle 20,000 is what it was after cycle 2,000."""
    clock = ManualClock()
    engine = SandboxEngine(SandboxConfig(clock=clock, seed=20_000, rate_limit=None), clock)

    def cycles(start: int, stop: int) -> None:
        for n in range(start, stop):
            dep = engine.create(
                "sandbox-key",
                country_code="44",
                number=f"77009{n % 100:05d}",
                waba_id="1",
                method="sms",
            )
            engine.delete("sandbox-key", dep.deployment_id)
            clock.advance(6.0)  # DELETING lasts 5 s; DELETED ones are forgotten after an hour

    tracemalloc.start()
    try:
        cycles(0, 2_000)  # the first hour fills the retention, and registrations their cap
        gc.collect()
        warm = tracemalloc.get_traced_memory()[0]
        held = len(engine)
        cycles(2_000, 20_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - warm
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes more after 18,000 more cycles"
    assert len(engine) <= held + 1  # an hour of deleted deployments, no more
    assert all(dep.state in (S.DELETING, S.DELETED) for dep in engine)
