"""Soak: 10,000 watched deployments on one client for 20 poll cycles.

The sandbox runs in another process (its own CPU; the polling benchmark's), without a rate
limit, with every deployment held in CREATING_CLUSTER so that each is polled for as long as the
soak lasts; a middleware there counts requests and response body bytes per route. The client
creates the deployments, then watches all of them at once (``PollPolicy(interval=1.0)``: one
poll cycle a second) for ``--cycles`` cycles, while it samples at every cycle boundary its
resident memory (RSS, from ``/proc/self/status``: Linux), its CPU time and the sandbox's
counters, and a probe measures how late a 10 ms sleep of the event loop wakes up.

Printed: memory per watcher (RSS once the watches run, less RSS before, over N), RSS growth
from the end of cycle 5 to the end of the last cycle (the soak's target: none) and RSS at the
end of each cycle (where it levels off), event-loop
lag p50/p99/max (target: p99 under 50 ms), and per cycle the requests (list and single GETs)
and response body bytes the sandbox served and the client's CPU time.

The lag's spikes are CPython's full garbage collections, each scanning every object the
10,000 watches hold (about 0.4 s here); ``--gc-freeze`` calls ``gc.freeze()`` once the
watches run, as a long-running service can, so that those objects are not scanned again.

    python benchmarks/soak.py [--watchers N] [--cycles C] [--gc-freeze]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import time
from contextlib import suppress
from typing import Any

import aiohttp
import anyio

# The sandbox process, the lag probe and the deployments are the polling benchmark's (this
# folder is on sys.path when a benchmark runs as a script).
from polling import POLLS, LagProbe, create_all, sandbox_process

from wamanager import JWTAuth, PollPolicy, WatchTimeout, WhatsAppManager


def rss() -> int:
    """This process's resident memory in bytes (``VmRSS``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status (the soak needs Linux)")


async def soak(
    server: dict[str, str], watchers: int, cycles: int, *, freeze: bool = False
) -> dict[str, Any]:
    """Watch ``watchers`` deployments for ``cycles`` one-second cycles; the samples taken.

    With ``freeze``, ``gc.freeze()`` once the watches run (after cycle 1): what exists then is
    never scanned again by the garbage collector's full collections.
    """
    root = server["root"]
    auth = JWTAuth(server["app"], server["key"])
    async with (
        WhatsAppManager(base_url=root + "/v0.1/whatsapp-manager", auth=auth) as wam,
        aiohttp.ClientSession() as probe_http,
    ):

        async def counters() -> dict[str, Any]:
            async with probe_http.get(root + "/_bench/stats") as response:
                data: dict[str, Any] = await response.json()
                return data

        ids = await create_all(wam, watchers)
        policy = PollPolicy(interval=1.0, jitter=0.1, deadline=cycles + 1.0)
        probe = LagProbe()
        samples: list[dict[str, Any]] = []
        gc.collect()
        before = rss()

        async def watch(deployment_id: str) -> None:
            with suppress(WatchTimeout):
                await wam.watch(deployment_id, policy=policy)

        async def sample(cycle: int) -> None:
            samples.append(
                {"cycle": cycle, "rss": rss(), "cpu": time.process_time(), **(await counters())}
            )

        async with anyio.create_task_group() as outer:
            outer.start_soon(probe.run)
            async with anyio.create_task_group() as tg:
                started = time.monotonic()
                for deployment_id in ids:
                    tg.start_soon(watch, deployment_id)
                for cycle in range(cycles + 1):
                    await anyio.sleep(max(0.0, started + cycle - time.monotonic()))
                    await sample(cycle)
                    probe.recording = cycle >= 1  # the start, every watch spawned, left out
                    if freeze and cycle == 1:
                        gc.freeze()
                probe.recording = False
            outer.cancel_scope.cancel()
    return {"before": before, "samples": samples, "probe": probe}


def report(watchers: int, cycles: int, result: dict[str, Any]) -> None:
    """Print the soak's figures."""
    samples, probe = result["samples"], result["probe"]
    first, fifth, last = samples[1], samples[min(5, cycles)], samples[-1]
    kib = 1024
    print(f"soak: {watchers:,} watched deployments, {cycles} one-second poll cycles, ", end="")
    print("sandbox in another process")
    per_watcher = (first["rss"] - result["before"]) / watchers
    print(f"  memory per watcher: {per_watcher / kib:.1f} KiB (RSS after cycle 1 less before)")
    growth = last["rss"] - fifth["rss"]
    print(
        f"  RSS growth, end of cycle 5 to end of cycle {cycles}: {growth / kib / kib:+.1f} MiB "
        f"({growth / watchers:+.0f} bytes per watcher; RSS {last['rss'] / kib / kib:.0f} MiB)"
    )
    trail = " ".join(f"{sample['rss'] / kib / kib:.0f}" for sample in samples)
    print(f"  RSS at each cycle's end, MiB: {trail}")
    print(
        f"  event-loop lag: p50 {probe.quantile(50):.1f} ms, p99 {probe.quantile(99):.1f} ms, "
        f"max {max(probe.lags) * 1000:.1f} ms ({len(probe.lags)} samples)"
    )
    print(f"  per cycle (cycles 2 to {cycles}): " + "requests (list + single), body KB, CPU ms")
    rows = []
    for previous, current in itertools.pairwise(samples[1:]):
        lists = current["counts"].get("GET deployments", 0)
        lists -= previous["counts"].get("GET deployments", 0)
        singles = current["counts"].get("GET one", 0) - previous["counts"].get("GET one", 0)
        body = sum(current["bytes"].get(k, 0) - previous["bytes"].get(k, 0) for k in POLLS)
        cpu = (current["cpu"] - previous["cpu"]) * 1000
        rows.append((lists + singles, lists, singles, body / kib, cpu))
    for name, column in (("mean", statistics.mean), ("min", min), ("max", max)):
        total, lists, singles, body, cpu = (column(row[i] for row in rows) for i in range(5))
        print(
            f"    {name:<5} {total:8.1f} ({lists:.1f} + {singles:.1f})  {body:10.1f} KB"
            f"  {cpu:8.1f} ms"
        )


async def main(watchers: int, cycles: int, freeze: bool) -> None:
    with sandbox_process() as server:
        result = await soak(server, watchers, cycles, freeze=freeze)
    report(watchers, cycles, result)
    if freeze:
        print("  (gc.freeze() after cycle 1)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() once the watches run")
    args = parser.parse_args()
    if args.cycles < 6:
        parser.error("--cycles must be at least 6 (growth is measured from cycle 5)")
    anyio.run(main, args.watchers, args.cycles, args.gc_freeze)
