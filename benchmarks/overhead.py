"""Per-call overhead of ``deployments.get`` against raw aiohttp, on one machine, in one run.

A minimal aiohttp server (in a child process, so that its work is not counted on either
side) answers a deployment's JSON. Rounds alternate: N sequential raw
``session.get(url)`` + ``response.json()`` calls, then N sequential
``wam.deployments.get(id)`` calls (a default client, after a warm-up that lets its rate
control grow past the call rate). Prints each side's median time per call and the median of
the per-round ratios, in wall-clock time (target: <= 1.05) and in this process's CPU time
(the client's own work, which is all that differs between the two sides).

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

            # Warm-up: connections, caches, and the client's slow start (it begins at 10/s
            # and doubles while calls queue) until its rate is well above the call rate.
            warm_up_started = time.perf_counter()
            limiter = wam.session.limiter
            while True:
                per_call = (await wam_round())[0] / calls
                if limiter.rate >= min(2 / per_call, limiter.control.max_rate):
                    break
            await raw_round()
            warm_up = time.perf_counter() - warm_up_started
            raw_wall, raw_cpu, wam_wall, wam_cpu = [], [], [], []
            for _ in range(rounds):
                wall, cpu = await raw_round()
                raw_wall.append(wall / calls)
                raw_cpu.append(cpu / calls)
                wall, cpu = await wam_round()
                wam_wall.append(wall / calls)
                wam_cpu.append(cpu / calls)
    finally:
        server.terminate()
        server.join()
    print(f"deployments.get vs raw aiohttp GET + json(): {rounds} rounds of {calls} calls")
    print(f"  (after a {warm_up:.1f} s warm-up; learned rate {wam.session.limiter.rate:.0f}/s)")
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
    asyncio.run(main(*(args + [300, 40][len(args) :])))
