"""Goodput and 429s under an account rate limit the client is not told about.

A sandbox allows ``LIMIT`` requests per second per account (burst ``BURST``, whole-second
``Retry-After``, as the sandbox answers) and counts, at the server, every answer by status.
Two workloads, each run with two clients in the same process, one after the other:

* **saturating**: 100 tasks call ``deployments.get`` back to back for ``SECONDS``;
  goodput = successful answers / (limit × seconds);
* **onboarding**: 200 concurrent ``provision()`` calls (create, OTP, READY, profile, photo).

The clients: a default client (no rate configuration: it must find the limit), and the
baseline, a client told the limit by hand (``rate_limit=LIMIT``, which the issue measured at
1.00 of the limit). Targets for the default client: goodput >= 0.9 of the limit and fewer
than 5% of requests answered 429.

A third workload has no limit but noise: a sandbox answering 5%, then 15%, of requests 429
at random (``Retry-After: 1``), as a flaky proxy would:

* **noise**: 100 tasks each call ``deployments.get`` every ``100 / OFFERED`` seconds (the
  workload offers ``OFFERED`` requests per second) for ``seconds``; goodput = successful
  answers per second, against the offered rate. The default client is measured against a
  client given ``rate_limit=OFFERED`` by hand, and against itself with no noise.

    python benchmarks/ratelimit.py [limit] [burst] [seconds]
"""

from __future__ import annotations

import collections
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import attrs
from aiohttp import web

from wamanager import (
    DeploymentRequest,
    JWTAuth,
    PollPolicy,
    Profile,
    WhatsAppManager,
    provision,
)
from wamanager.sandbox import (
    API_PREFIX,
    FaultConfig,
    SandboxConfig,
    create_app,
    generate_application,
)

#: The requests per second the noise workload offers.
OFFERED = 200.0


@attrs.define
class Server:
    """A running sandbox and the answers it has sent, by status."""

    base_url: str
    root_url: str
    auth: JWTAuth
    statuses: collections.Counter[int] = attrs.field(factory=collections.Counter)

    def snapshot(self) -> collections.Counter[int]:
        return collections.Counter(self.statuses)

    def answered_since(self, before: collections.Counter[int]) -> dict[str, float]:
        """The answers since the ``before`` snapshot: 200s, 429s, all, and the 429s' share."""
        counts = self.snapshot() - before
        total = sum(counts.values())
        return {
            "ok": counts[200],
            "429": counts[429],
            "requests": total,
            "share": counts[429] / total,
        }


@contextlib.asynccontextmanager
async def serve(limit: float | None, burst: int = 1, noise: float = 0.0) -> AsyncIterator[Server]:
    """A sandbox limited to ``limit`` per second (``None``: no limit), answering ``noise`` of
    requests 429 at random."""
    application, private_key = generate_application()
    config = SandboxConfig(
        applications=(application,),
        rate_limit=limit,
        rate_burst=burst,
        speed=60.0,
        faults=FaultConfig(throttle_rate=noise),
    )
    app = create_app(config)
    server: Server | None = None

    async def count(request: web.Request, response: web.StreamResponse) -> None:
        if server is not None and request.path.startswith(API_PREFIX):
            server.statuses[response.status] += 1

    app.on_response_prepare.append(count)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        root = f"http://127.0.0.1:{runner.addresses[0][1]}"
        server = Server(root + API_PREFIX, root, JWTAuth(application.application_id, private_key))
        yield server
    finally:
        await runner.cleanup()


def request(i: int) -> DeploymentRequest:
    return DeploymentRequest(
        country_code="44", number=f"77{i:08d}", vname_certificate="cert", waba_id="1"
    )


async def saturate(server: Server, seconds: float, **client: Any) -> dict[str, float]:
    """100 tasks of back-to-back GETs for `seconds`; answers counted at the server."""
    async with WhatsAppManager(server.auth, base_url=server.base_url, **client) as wam:
        dep_id = (await wam.deployments.create(request(99_000_000))).deployment_id
        before = server.snapshot()
        deadline = anyio.current_time() + seconds

        async def worker() -> None:
            while anyio.current_time() < deadline:
                await wam.deployments.get(dep_id)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(worker)
        elapsed = time.perf_counter() - started
        estimate = wam.session.limiter.estimate
    return {**server.answered_since(before), "seconds": elapsed, "estimate": estimate or 0.0}


async def onboard(server: Server, count: int, **client: Any) -> dict[str, float]:
    """`count` concurrent provision() calls with a profile and a photo."""
    before = server.snapshot()
    finished = 0
    policy = PollPolicy(interval=0.5)
    async with (
        aiohttp.ClientSession() as inbox,
        WhatsAppManager(server.auth, base_url=server.base_url, **client) as wam,
    ):

        async def otp(deployment: Any) -> str | None:
            url = f"{server.root_url}/_sandbox/deployments/{deployment.deployment_id}/otp"
            headers = {"Authorization": server.auth.authorization()}
            async with inbox.get(url, headers=headers) as answer:
                if answer.status == 404:
                    return None
                code: str = (await answer.json())["code"]
                return code

        async def one(i: int) -> None:
            nonlocal finished
            await provision(
                wam,
                request(i),
                otp=otp,
                profile=Profile(about=f"Shop {i}"),
                photo_url="https://example.com/logo.png",
                policy=policy,
            )
            finished += 1

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(count):
                tg.start_soon(one, i)
        elapsed = time.perf_counter() - started
    return {**server.answered_since(before), "finished": finished, "seconds": elapsed}


async def paced(server: Server, seconds: float, **client: Any) -> dict[str, float]:
    """100 tasks each calling ``deployments.get`` every ``100 / OFFERED`` s for ``seconds``
    (a late task catches up); answers counted at the server."""
    period = 100 / OFFERED
    async with WhatsAppManager(server.auth, base_url=server.base_url, **client) as wam:
        dep_id = (await wam.deployments.create(request(99_000_000))).deployment_id
        before = server.snapshot()
        start = anyio.current_time()

        async def task(offset: float) -> None:
            due = start + offset
            while due < start + seconds:
                await anyio.sleep(max(due - anyio.current_time(), 0.0))
                await wam.deployments.get(dep_id)
                due += period

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(task, i * period / 100)
        elapsed = time.perf_counter() - started
        limiter = wam.session.limiter
    return {
        **server.answered_since(before),
        "seconds": elapsed,
        "rate": limiter.rate,
        "noise": limiter.noise,
    }


async def noise_scenario(seconds: float) -> None:
    """The default client under random 429s, against rate_limit=OFFERED by hand."""
    print(f"\nnoise: no limit, random 429s (Retry-After: 1); {OFFERED:g} requests/s offered")
    clients = {"default client": {}, "rate_limit by hand": {"rate_limit": OFFERED}}
    for noise in (0.0, 0.05, 0.15):
        results = {}
        for name, options in clients.items():
            if noise == 0.0 and options:
                continue
            async with serve(None, noise=noise) as server:
                results[name] = await paced(server, seconds, **options)
        for name, r in results.items():
            goodput = r["ok"] / r["seconds"]
            print(
                f"  {noise:4.0%} {name:20s} goodput {goodput:6.1f}/s "
                f"({goodput / OFFERED:.3f} of offered), 429s {int(r['429'])} "
                f"({r['share']:.1%}), rate at the end {r['rate']:.0f}/s, "
                f"noise learned {r['noise']:.1%}"
            )
        if len(results) == 2:
            default, baseline = (results[n] for n in clients)
            ratio = (default["ok"] / default["seconds"]) / (baseline["ok"] / baseline["seconds"])
            print(f"  {noise:4.0%} default / by hand: {ratio:.3f}")


async def main(limit: float, burst: int, seconds: float) -> None:
    print(f"sandbox limit {limit:g} requests/s per account, burst {burst}")
    clients = {"default client": {}, "rate_limit by hand": {"rate_limit": limit}}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, options in clients.items():
        # A fresh sandbox per client: one's numbers and one's deployments never mix.
        async with serve(limit, burst) as server:
            results[name] = {
                "saturating": await saturate(server, seconds, **options),
                "onboarding": await onboard(server, 200, **options),
            }

    print(f"\nsaturating: 100 tasks of back-to-back GETs for {seconds:g} s")
    for name, result in results.items():
        r = result["saturating"]
        goodput = r["ok"] / (limit * r["seconds"])
        print(
            f"  {name:20s} goodput {goodput:.3f} of the limit, "
            f"429s {int(r['429'])} ({r['share']:.2%} of requests)"
            + (f", learned limit {r['estimate']:.1f}/s" if r["estimate"] else "")
        )
    default, baseline = (results[n]["saturating"] for n in clients)
    ratio = (default["ok"] / default["seconds"]) / (baseline["ok"] / baseline["seconds"])
    print(f"  default / by hand: {ratio:.3f} (targets: goodput >= 0.9, 429s < 5%)")

    print("\nonboarding: 200 concurrent provision() calls (create, OTP, READY, profile, photo)")
    for name, result in results.items():
        r = result["onboarding"]
        print(
            f"  {name:20s} {int(r['finished'])}/200 READY in {r['seconds']:.1f} s, "
            f"{int(r['requests'])} requests, 429s {int(r['429'])} ({r['share']:.2%})"
        )
    default, baseline = (results[n]["onboarding"] for n in clients)
    print(f"  default / by hand, time: {default['seconds'] / baseline['seconds']:.3f}")

    await noise_scenario(seconds)


if __name__ == "__main__":
    args = sys.argv[1:4]
    anyio.run(
        main,
        float(args[0]) if args else 50.0,
        int(args[1]) if len(args) > 1 else 10,
        float(args[2]) if len(args) > 2 else 30.0,
    )
