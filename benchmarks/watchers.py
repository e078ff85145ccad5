"""How many requests do N watchers cost? Batched polling against one GET per poll.

Runs N deployments to READY on one client against a local sandbox twice: with the scheduler's
batching off (a baseline of one GET per poll), then on. Prints requests, wall time and the
ratios between the two runs, measured in the same process on the same machine.

    python benchmarks/watchers.py [N]
"""

from __future__ import annotations

import sys
import time

import anyio

from wamanager import DeploymentRequest, JWTAuth, PollPolicy, WhatsAppManager
from wamanager.sandbox import SandboxConfig, run_sandbox
from wamanager.scheduler import PollScheduler

# 120 sandbox seconds per real second: each deployment is polled for about 1.5 s.
SPEED = 120.0


async def run(count: int, *, batched: bool) -> tuple[int, float]:
    """Poll requests and seconds to bring ``count`` deployments to READY."""
    # No rate limit: this measures polling cost, not throttling.
    config = SandboxConfig(speed=SPEED, rate_limit=None)
    async with (
        run_sandbox(config) as sandbox,
        WhatsAppManager(
            base_url=sandbox.base_url,
            auth=JWTAuth(sandbox.application_id, sandbox.private_key_pem or ""),
        ) as wam,
    ):
        wam._scheduler = PollScheduler(
            wam.deployments, batch_threshold=16 if batched else count + 1
        )
        policy = PollPolicy(interval=0.05, jitter=0.2)

        async def onboard(i: int) -> None:
            request = DeploymentRequest(
                country_code="44", number=f"77{i:08d}", vname_certificate="c", waba_id="1"
            )
            dep_id = (await wam.deployments.create(request)).deployment_id
            await wam.watch(dep_id, otp=sandbox.otp_provider, policy=policy)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(count):
                tg.start_soon(onboard, i)
        return wam.scheduler.requests, time.perf_counter() - started


async def main(count: int) -> None:
    base_requests, base_seconds = await run(count, batched=False)
    requests, seconds = await run(count, batched=True)
    print(f"{count} watchers to READY, polling every 50 ms (sandbox at {SPEED:g}x)")
    print(f"  one GET per poll:  {base_requests:6d} requests  {base_seconds:6.2f} s")
    print(f"  batched polls:     {requests:6d} requests  {seconds:6.2f} s")
    print(
        f"  requests ratio {base_requests / requests:.1f}x fewer, "
        f"time ratio {base_seconds / seconds:.2f}x"
    )


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 500)
