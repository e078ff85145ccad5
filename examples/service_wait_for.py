"""Service style: start a deployment, then await milestones with timeouts.

Runs against an embedded sandbox with no arguments:  python examples/service_wait_for.py
A web handler would create the deployment and return; a worker would do what ``main`` does.
"""

from __future__ import annotations

import asyncio
import os

from wamanager import (
    DeploymentFailed,
    DeploymentRequest,
    DeploymentState,
    JWTAuth,
    PollPolicy,
    WatchTimeout,
    WhatsAppManager,
)
from wamanager.sandbox import SandboxConfig, run_sandbox

SPEED = float(os.environ.get("WAMANAGER_SANDBOX_SPEED", "60"))


async def main() -> int:
    async with (
        run_sandbox(SandboxConfig(speed=SPEED)) as sandbox,
        WhatsAppManager(
            base_url=sandbox.base_url,
            auth=JWTAuth(sandbox.application_id, sandbox.private_key_pem),
        ) as wam,
        sandbox.inbox() as inbox,
    ):
        created = await wam.deployments.create(
            DeploymentRequest(
                country_code="44",
                number="7700900003",
                vname_certificate="certificate-from-the-dashboard",
                waba_id="123456789123",
            )
        )
        policy = PollPolicy(interval=0.2, deadline=60)
        async with wam.watch(created.deployment_id, otp=inbox, policy=policy) as w:
            try:
                sent = await w.wait_for(DeploymentState.CODE_SENT, timeout=30)
                print(f"OTP sent for deployment {sent.deployment_id}")
                ready = await w.wait_for(DeploymentState.READY, timeout=30)
            except DeploymentFailed as exc:
                print(f"deployment failed: {exc.detail}")
                return 1
            except WatchTimeout as exc:
                print(f"gave up waiting in {exc.state}: {exc}")
                return 1
        print(f"deployment {ready.deployment_id} is {ready.state}")
        return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
