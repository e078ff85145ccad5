"""Onboarding 1,000 numbers: ``provision_many`` against the script a user would write.

Both runs take every number to READY against a fresh sandbox in another process (started
with ``python -m wamanager sandbox``), and read each OTP code from its inbox:

* **naive**: plain aiohttp and asyncio, one task per number: create, then ``GET
  /deployments/{id}`` every ``--interval`` sandbox seconds (5) until READY, verifying the
  code once CODE_SENT shows; a 429 is handled the minimal way, sleeping its ``Retry-After``;
* **wamanager**: ``provision_many(wam, requests, otp=inbox, concurrency=N)`` on a default
  client (``concurrency=N``: as many numbers in flight as the naive script has tasks), the
  watcher's clock at the sandbox's pace (``ScaledClock(speed)``), default poll policy.

Printed per run: API requests counted by the sandbox (429s and retries included), the 429s,
response body bytes, inbox reads (the sandbox's stand-in for the SMS, not an API request),
wall time and the client process's CPU time; how wamanager's polls were served; then the
wamanager / naive ratios, both runs measured in the same invocation. Each run checks that
every number was created exactly once.

Speed and rate limit. The sandbox's stages and both clients' waits run ``--speed`` times
faster than real time (default 10: a deployment takes about 17 s instead of three minutes),
so that a run takes under a minute. The sandbox's rate limit counts *real* seconds, so to
give the account the limit it would have at normal speed the limit is multiplied by the
speed too: ``--rate-limit 30`` (requests per sandbox second, the sandbox's default) becomes
300 per real second, with a burst of 300. A faster clock would have the naive run's polls
(1,000 numbers every 5 s: 2,000 a real second at x10) saturate the two processes' CPUs
instead of the account's limit, measuring the machine; a slower one takes minutes per run.
One distortion remains: ``Retry-After`` comes in whole real seconds (at least 1), which at
x10 stands for ten sandbox seconds, so every 429 costs a client more waiting than it would
in production; the client that gets more 429s pays more.

    python benchmarks/bulk.py [--numbers N] [--speed S] [--rate-limit R] [--interval T]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from wamanager import DeploymentRequest, JWTAuth, WhatsAppManager, provision_many
from wamanager.sandbox import SandboxInbox, ScaledClock

API = "/v0.1/whatsapp-manager"


@contextmanager
def sandbox_process(speed: float, rate_limit: float) -> Iterator[dict[str, str]]:
    """A fresh sandbox in a child process; yields the variables it prints (``--json``)."""
    per_second = f"{rate_limit * speed:g}"
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and package
        [
            sys.executable,
            "-m",
            "wamanager",
            "sandbox",
            "--port",
            "0",
            "--json",
            "--speed",
            f"{speed:g}",
            "--rate-limit",
            per_second,
            "--rate-burst",
            per_second,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGINT)  # it removes its key file on Ctrl-C
        child.wait(timeout=10)


def numbers(count: int) -> list[str]:
    """``count`` national numbers (country code 44)."""
    return [f"7700{n:06d}" for n in range(count)]


async def sandbox_stats(root: str) -> dict[str, Any]:
    """The sandbox's counters (``GET /_sandbox/stats``)."""
    async with aiohttp.ClientSession() as http, http.get(root + "/_sandbox/stats") as response:
        data: dict[str, Any] = await response.json()
        return data


def credentials(env: dict[str, str]) -> JWTAuth:
    """The sandbox's default application, for JWTs (both clients sign in the same way)."""
    return JWTAuth(env["VONAGE_APPLICATION_ID"], Path(env["VONAGE_PRIVATE_KEY"]))


async def naive(env: dict[str, str], count: int, speed: float, interval: float) -> int:
    """The script a user writes without wamanager; returns how many times it read the inbox."""
    base = env["WAMANAGER_BASE_URL"]
    root = base.removesuffix(API)
    auth = credentials(env)
    inbox_reads = 0

    async with aiohttp.ClientSession() as http:

        async def call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
            while True:
                headers = {"Authorization": auth.authorization()}
                async with http.request(method, url, json=body, headers=headers) as response:
                    if response.status != 429:
                        return response.status, await response.json(content_type=None)
                    wait = float(response.headers.get("Retry-After", "1"))
                await asyncio.sleep(wait)

        async def onboard(number: str) -> None:
            nonlocal inbox_reads
            request = {
                "country_code": "44",
                "number": number,
                "vname_certificate": "certificate",
                "waba_id": "123456789123",
                "method": "sms",
            }
            _, created = await call("POST", base + "/deployments", request)
            deployment = f"{base}/deployments/{created['deployment_id']}"
            inbox = f"{root}/_sandbox/deployments/{created['deployment_id']}/otp"
            verified = False
            while True:
                await asyncio.sleep(interval / speed)
                _, snapshot = await call("GET", deployment)
                state = snapshot["current_state"]["title"]
                if state == "READY":
                    return
                if state in ("CODE_SENT", "WRONG_CODE") and not verified:
                    inbox_reads += 1
                    headers = {"Authorization": auth.authorization()}
                    async with http.get(inbox, headers=headers) as response:
                        code = (await response.json())["code"] if response.status == 200 else None
                    if code:
                        status, _ = await call("POST", deployment + "/verify", {"code": code})
                        verified = status == 201

        await asyncio.gather(*(onboard(number) for number in numbers(count)))
    return inbox_reads


async def library(env: dict[str, str], count: int, speed: float) -> int:
    """``provision_many`` on a default client; returns how many times it read the inbox, and
    prints how its polls were served."""
    root = env["WAMANAGER_BASE_URL"].removesuffix(API)
    auth = credentials(env)
    requests = [
        DeploymentRequest(
            country_code="44", number=number, vname_certificate="certificate", waba_id="1"
        )
        for number in numbers(count)
    ]
    async with (
        WhatsAppManager(base_url=env["WAMANAGER_BASE_URL"], auth=auth) as wam,
        SandboxInbox(root, auth.authorization) as inbox,
    ):
        report = await provision_many(
            wam, requests, otp=inbox, concurrency=count, clock=ScaledClock(speed)
        )
    assert report.counts == {"ready": count}, report.counts
    polls = wam.scheduler.stats
    print(
        f"  (wamanager's polls: {polls.served_by_list} served by {polls.list_calls} lists, "
        f"{polls.list_failures} of them unusable; {polls.single_gets} single GETs)"
    )
    return inbox.reads


async def measure(
    mode: str, count: int, speed: float, rate_limit: float, interval: float
) -> dict[str, Any]:
    """One run of ``mode`` against a fresh sandbox: what it cost."""
    with sandbox_process(speed, rate_limit) as env:
        cpu, wall = time.process_time(), time.perf_counter()
        if mode == "naive":
            reads = await naive(env, count, speed, interval)
        else:
            reads = await library(env, count, speed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stats = await sandbox_stats(env["WAMANAGER_BASE_URL"].removesuffix(API))
    creates = stats["creates"]
    assert len(creates) == count, "a number was not created"
    assert set(creates.values()) == {1}, "a number was created twice"
    return {
        "requests": stats["total_requests"],
        "by_operation": stats["requests"],
        "throttled": stats["throttled"]["rate_limit"],
        "mbytes": sum(stats["response_bytes"].values()) / 1e6,
        "inbox": reads,
        "wall": wall,
        "cpu": cpu,
    }


COLUMNS = (
    ("requests", "requests", "{:>10.0f}"),
    ("throttled", "429s", "{:>8.0f}"),
    ("mbytes", "body MB", "{:>9.2f}"),
    ("inbox", "inbox", "{:>7.0f}"),
    ("wall", "wall s", "{:>8.1f}"),
    ("cpu", "CPU s", "{:>7.1f}"),
)


def row(label: str, figures: dict[str, Any]) -> str:
    return f"  {label:<20}" + "".join(fmt.format(figures[key]) for key, _, fmt in COLUMNS)


async def main(count: int, speed: float, rate_limit: float, interval: float) -> None:
    print(
        f"{count} numbers to READY; sandbox x{speed:g} in another process, rate limit "
        f"{rate_limit:g}/s in sandbox time ({rate_limit * speed:g}/s real); naive polls every "
        f"{interval:g} s (sandbox)"
    )
    print(f"  {'':<20}" + "".join(f"{title:>{len(fmt.format(0))}}" for _, title, fmt in COLUMNS))
    runs = {}
    for mode in ("naive", "wamanager"):
        runs[mode] = await measure(mode, count, speed, rate_limit, interval)
        print(row(mode, runs[mode]), flush=True)
    ratios = {
        key: runs["wamanager"][key] / runs["naive"][key] if runs["naive"][key] else 0.0
        for key, _, _ in COLUMNS
    }
    print(
        f"  {'wamanager / naive':<20}"
        + "".join(f"{ratios[key]:>{len(fmt.format(0))}.3f}" for key, _, fmt in COLUMNS)
    )
    for mode, figures in runs.items():
        operations = ", ".join(f"{name} {n}" for name, n in sorted(figures["by_operation"].items()))
        print(f"  {mode} requests: {operations}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1000)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--rate-limit", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args()
    anyio.run(main, args.numbers, args.speed, args.rate_limit, args.interval)
