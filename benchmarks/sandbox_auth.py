"""What does a Bearer JWT cost the sandbox? Requests/s with JWT against Basic (target ≥ 0.8).

Serves a sandbox (Basic allowed, no rate limit) in a child process, then sends interleaved
rounds of ``GET /deployments`` from this one: with a Basic header (the baseline), with one
reused JWT (what ``JWTAuth`` sends: verified once, then served from the sandbox's cache),
and, for reference, with a new JWT on every request (every request pays the RS256 check).
Prints the median requests/s of each and the ratios, measured in the same run.

    python benchmarks/sandbox_auth.py [REQUESTS_PER_ROUND] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from wamanager.sandbox import SandboxConfig, run_sandbox

CONCURRENCY = 32


def _serve(pipe: Connection) -> None:
    async def main() -> None:
        config = SandboxConfig(basic_auth=True, rate_limit=None)
        async with run_sandbox(config) as sandbox:
            pipe.send(
                (
                    sandbox.base_url,
                    sandbox.basic_authorization,
                    sandbox.application_id,
                    sandbox.private_key_pem,
                )
            )
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


async def _round(http: aiohttp.ClientSession, url: str, headers: list[str]) -> float:
    """Requests per second for ``len(headers)`` requests, ``CONCURRENCY`` at a time."""
    queue = iter(headers)

    async def worker() -> None:
        for header in queue:
            async with http.get(url, headers={"Authorization": header}) as response:
                await response.read()
                assert response.status == 200, response.status

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(headers) / (time.perf_counter() - started)


def _bearer(app_id: str, key: Any) -> str:
    now = int(time.time())
    claims = {"application_id": app_id, "iat": now, "exp": now + 900, "jti": str(uuid.uuid4())}
    return f"Bearer {jwt.encode(claims, key, algorithm='RS256')}"


async def main(requests: int, rounds: int) -> None:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    base_url, basic, app_id, pem = parent.recv()
    url = base_url + "/deployments"
    key = load_pem_private_key(pem.encode(), password=None)  # parsed once: signing is cheap
    token = _bearer(app_id, key)
    rates: dict[str, list[float]] = {"basic": [], "jwt": [], "jwt-uncached": []}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            await _round(http, url, [basic] * 200)  # warm up connections
            for _ in range(rounds):
                fresh = [_bearer(app_id, key) for _ in range(requests // 4)]
                rates["basic"].append(await _round(http, url, [basic] * requests))
                rates["jwt"].append(await _round(http, url, [token] * requests))
                rates["jwt-uncached"].append(await _round(http, url, fresh))
    finally:
        parent.send("stop")
        server.join(10)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"sandbox GET /deployments, {rounds} interleaved rounds, {CONCURRENCY} concurrent")
    print(f"  Basic:                  {median['basic']:8.0f} requests/s")
    print(f"  JWT (one token reused): {median['jwt']:8.0f} requests/s")
    print(f"  JWT (a new token each): {median['jwt-uncached']:8.0f} requests/s")
    ratio = median["jwt"] / median["basic"]
    verdict = "meets" if ratio >= 0.8 else "MISSES"
    print(f"  JWT / Basic: {ratio:.2f} ({verdict} the 0.8 target)")
    print(f"  uncached JWT / Basic: {median['jwt-uncached'] / median['basic']:.2f}")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    asyncio.run(main(count, repeat))
