"""Per-call overhead of ``deployments.get`` against raw aiohttp, on one machine, in one run.

A minimal aiohttp server (in a child process, so that its work is not counted on either
side) answers a deployment's JSON. Each round makes N sequential raw ``session.get(url)`` +
``response.json()`` calls and N sequential ``wam.deployments.get(id)`` calls, with a default
client (which side goes first alternates). Prints each side's median time per call and the
median of the per-round ratios, in wall-clock time (target: <= 1.05) and in this process's
CPU time (the client's own work, which is all that differs between the two sides).

    python benchmarks/overhead.py [calls-per-round] [rounds]
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import time

import aiohttp
from aiohttp import web

from wamanager import BasicAuth, WhatsAppManager

DEP = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
BODY = json.dumps(
    {
        "deployment_id": DEP,
        "waba_id": "123456789123",
        "country_code": "44",
        "number": "7700900000",
        "api_key": "abcd1234",
        "current_state": {"title": "CODE_SENT", "detail": "Code sent by sms"},
        "meta": {"trace": "abc"},
    }
).encode()
PREFIX = "/v0.1/whatsapp-manager"


def serve(port: int) -> None:
    """The server process: one route answering BODY."""

    async def deployment(request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get(PREFIX + "/deployments/{deployment_id}", deployment)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for_server(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(url) as response:
                    await response.read()
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise RuntimeError("the benchmark server did not start")


async def main(calls: int, rounds: int) -> None:
    port = free_port()
    server = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    server.start()
    base_url = f"http://127.0.0.1:{port}{PREFIX}"
    url = f"{base_url}/deployments/{DEP}"
    auth = BasicAuth("key", "secret")
    try:
        await wait_for_server(url)
        async with (
            aiohttp.ClientSession() as http,
            WhatsAppManager(auth, base_url=base_url) as wam,
        ):
            headers = {"Authorization": auth.authorization(), "Accept": "application/json"}

            async def raw_round() -> tuple[float, float]:
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    async with http.get(url, headers=headers) as response:
                        await response.json()
                return time.perf_counter() - started, time.process_time() - cpu

            async def wam_round() -> tuple[float, float]:
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    await wam.deployments.get(DEP)
                return time.perf_counter() - started, time.process_time() - cpu

            # Warm-up: connections and caches. (Sequential calls are never spaced by the
            # rate control before a 429: one request at a time is no herd.)
            warm_up_started = time.perf_counter()
            for _ in range(5):
                await raw_round()
                await wam_round()
            warm_up = time.perf_counter() - warm_up_started
            raw_wall, raw_cpu, wam_wall, wam_cpu = [], [], [], []
            for i in range(rounds):
                # Alternate which side goes first, so a slow drift of the machine's speed
                # does not favour either.
                if i % 2:
                    wam_times, raw_times = await wam_round(), await raw_round()
                else:
                    raw_times, wam_times = await raw_round(), await wam_round()
                raw_wall.append(raw_times[0] / calls)
                raw_cpu.append(raw_times[1] / calls)
                wam_wall.append(wam_times[0] / calls)
                wam_cpu.append(wam_times[1] / calls)
    finally:
        server.terminate()
        server.join()
    print(f"deployments.get vs raw aiohttp GET + json(): {rounds} rounds of {calls} calls")
    print(f"  (after a {warm_up:.1f} s warm-up)")
    for what, raw, ours, target in (
        ("wall clock", raw_wall, wam_wall, "; target <= 1.05"),
        ("client CPU", raw_cpu, wam_cpu, ""),
    ):
        ratios = [b / a for a, b in zip(raw, ours, strict=False)]
        print(
            f"  {what}: raw {statistics.median(raw) * 1e6:6.1f} us/call, "
            f"deployments.get {statistics.median(ours) * 1e6:6.1f} us/call, "
            f"ratio {statistics.median(ratios):.3f} (median of rounds, "
            f"quartiles {statistics.quantiles(ratios, n=4)[0]:.3f}-"
            f"{statistics.quantiles(ratios, n=4)[2]:.3f}{target})"
        )


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:3]]
    asyncio.run(main(*(args + [200, 60][len(args) :])))
