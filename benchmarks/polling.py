"""What one poll cycle costs: batched polling against one GET per watched deployment.

For each N (10 … 10,000 by default) the account holds N deployments, all watched by one
client, polled every second for a few cycles; the same run is made twice, with the
scheduler's batching off (the baseline: one ``GET /deployments/{id}`` per poll) and on. The
sandbox runs in another process, so the client's CPU time is its own. Printed per N and mode:
requests and response body bytes per cycle (counted by the sandbox; each request's headers,
a JWT among them, come on top), client CPU per cycle, and the ratios per poll
batched / baseline, and the event loop's lag (p99); then memory per watcher for the largest N.

    python benchmarks/polling.py [N ...] [--cycles C]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import aiohttp
import anyio

from wamanager import DeploymentRequest, JWTAuth, PollPolicy, WatchTimeout, WhatsAppManager

# The sandbox process: every deployment stays in CREATING_CLUSTER (so it is polled for as long
# as the benchmark runs); a middleware counts requests and response bytes per route.
SERVER = textwrap.dedent(
    """
    import asyncio, json, sys
    from collections import Counter
    from aiohttp import web
    from wamanager.sandbox import SandboxConfig, Scenario, create_app
    from wamanager.sandbox._runner import with_default_application

    counts, sizes = Counter(), Counter()

    @web.middleware
    async def count(request, handler):
        if request.path == "/_bench/stats":
            return web.json_response({"counts": counts, "bytes": sizes})
        response = await handler(request)
        tail = request.path.rsplit("/", 1)[-1]
        key = request.method + " " + ("one" if tail.count("-") == 4 else tail)
        counts[key] += 1
        if isinstance(response, web.Response) and isinstance(response.body, bytes):
            sizes[key] += len(response.body)
        return response

    async def main():
        config, key = with_default_application(SandboxConfig(
            scenarios=(Scenario("*", stuck_in="CREATING_CLUSTER"),),
            max_deployments=1_000_000,
            rate_limit=None,  # poll cost, not the account limit
        ))
        app = create_app(config)
        app.middlewares.insert(0, count)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(json.dumps({"root": f"http://127.0.0.1:{port}",
                          "app": config.applications[0].application_id, "key": key}),
              flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


#: The routes a watcher's polls take (the list, and one deployment).
POLLS = ("GET deployments", "GET one")


@contextmanager
def sandbox_process() -> Iterator[dict[str, str]]:
    """A sandbox in a child process; yields its root URL and application credentials."""
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


async def stats(root: str) -> dict[str, Any]:
    """The sandbox's request and byte counters."""
    async with aiohttp.ClientSession() as http, http.get(root + "/_bench/stats") as response:
        data: dict[str, Any] = await response.json()
        return data


class LagProbe:
    """Measures how late a 10 ms sleep wakes up (the event loop's lag), while ``recording``."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.recording = False

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await anyio.sleep(0.01)
            if self.recording:
                self.lags.append(time.perf_counter() - started - 0.01)

    def quantile(self, q: int) -> float:
        """The ``q``-th percentile, in milliseconds (0 with too few samples)."""
        if len(self.lags) <= 2:
            return 0.0
        return statistics.quantiles(self.lags, n=100)[q - 1] * 1000


async def measure(
    server: dict[str, str], count: int, cycles: int, *, batched: bool, memory: bool = False
) -> dict[str, float]:
    """Watch ``count`` deployments for ``cycles`` one-second cycles; what it cost.

    CPU, requests and bytes are counted over the whole watch; the event loop's lag over the
    cycles in the middle (the start, when every watch is spawned at once, is left out).
    With ``memory``, tracemalloc measures what the watches hold (slower; a separate run).
    """
    root = server["root"]
    auth = JWTAuth(server["app"], server["key"])
    async with WhatsAppManager(base_url=root + "/v0.1/whatsapp-manager", auth=auth) as wam:
        wam.scheduler.batching = batched
        ids = await create_all(wam, count)
        before = await stats(root)
        policy = PollPolicy(interval=1.0, jitter=0.1, deadline=cycles + 0.5)
        probe = LagProbe()
        gc.collect()
        if memory:
            tracemalloc.start()
        held = 0
        cpu = time.process_time()
        polls = wam.scheduler.stats.single_gets + wam.scheduler.stats.served_by_list

        async def watch(dep_id: str) -> None:
            with suppress(WatchTimeout):
                await wam.watch(dep_id, policy=policy)

        async with anyio.create_task_group() as outer:
            outer.start_soon(probe.run)
            async with anyio.create_task_group() as tg:
                for dep_id in ids:
                    tg.start_soon(watch, dep_id)
                await anyio.sleep(1.5)
                probe.recording = True
                await anyio.sleep(cycles - 2.0)
                probe.recording = False
                if memory:
                    held = tracemalloc.get_traced_memory()[0]
                    tracemalloc.stop()
            outer.cancel_scope.cancel()
        cpu = time.process_time() - cpu
        polls = wam.scheduler.stats.single_gets + wam.scheduler.stats.served_by_list - polls
        after = await stats(root)
    poll_requests = sum(after["counts"].get(k, 0) - before["counts"].get(k, 0) for k in POLLS)
    poll_bytes = sum(after["bytes"].get(k, 0) - before["bytes"].get(k, 0) for k in POLLS)
    return {
        "polls": polls / cycles,
        "requests": poll_requests / cycles,
        "kbytes": poll_bytes / cycles / 1024,
        "cpu_ms": cpu / cycles * 1000,
        "memory_per_watcher": held / count,
        "lag_p99_ms": probe.quantile(99),
    }


async def create_all(wam: WhatsAppManager, count: int) -> list[str]:
    """Create ``count`` fresh deployments (50 at a time; numbers new to a sandbox that already
    holds an earlier run's); their ids."""
    ids: list[str] = []
    base = int(time.time() * 1000) % 10**8
    limiter = anyio.CapacityLimiter(50)

    async def one(n: int) -> None:
        async with limiter:
            request = DeploymentRequest(
                country_code="1", number=f"{base + n:010d}", vname_certificate="c", waba_id="1"
            )
            ids.append((await wam.deployments.create(request)).deployment_id)

    async with anyio.create_task_group() as tg:
        for n in range(count):
            tg.start_soon(one, n)
    return ids


COLUMNS = ("polls", "requests", "kbytes", "cpu_ms")


def row(
    label: str, figures: dict[str, float], fmt: Callable[[float], str] = "{:10.1f}".format
) -> str:
    return f"  {label:<22}" + "".join(fmt(figures[k]) for k in COLUMNS)


async def main(sizes: list[int], cycles: int) -> None:
    print(f"poll cost per one-second cycle, {cycles} cycles, sandbox in another process")
    print(f"  {'':<22}{'polls':>10}{'requests':>10}{'body KB':>10}{'CPU ms':>10}")
    for count in sizes:
        # Each run gets a fresh sandbox, so the account holds exactly the N watched.
        with sandbox_process() as server:
            single = await measure(server, count, cycles, batched=False)
        with sandbox_process() as server:
            batched = await measure(server, count, cycles, batched=True)
        print(f"N = {count}")
        print(row("single GETs", single))
        print(row("batched", batched))
        per_poll = {
            k: (batched[k] / batched["polls"]) / (single[k] / single["polls"])
            if single[k] and batched["polls"] and single["polls"]
            else 0.0
            for k in COLUMNS
        }
        print(row("batched/single per poll", per_poll, "{:10.3f}".format))
        print(
            f"  event-loop lag p99: {single['lag_p99_ms']:.1f} ms single, "
            f"{batched['lag_p99_ms']:.1f} ms batched"
        )
    with sandbox_process() as server:
        memory = await measure(server, sizes[-1], 3, batched=True, memory=True)
    print(f"memory per watcher (N = {sizes[-1]}): {memory['memory_per_watcher'] / 1024:.1f} KiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 1000, 10000])
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    anyio.run(main, args.sizes, args.cycles)
