"""An event-driven flow: callbacks for each step, the OTP read from the sandbox inbox.

Runs against an embedded sandbox with no arguments:  python examples/event_driven.py
The number used here has its first code withheld until a resend (a sandbox scenario), so the
watcher's resend logic shows too.
"""

from __future__ import annotations

import asyncio
import os

from wamanager import (
    CodeRequested,
    CodeResent,
    CodeVerified,
    DeploymentRequest,
    DeploymentState,
    JWTAuth,
    PollFailed,
    PollPolicy,
    StateChanged,
    WhatsAppManager,
)
from wamanager.sandbox import SandboxConfig, Scenario, run_sandbox

SPEED = float(os.environ.get("WAMANAGER_SANDBOX_SPEED", "60"))
NUMBER = "7700900002"


def on_change(event: StateChanged) -> None:
    print(f"  {event.previous} -> {event.current}")


async def on_code_sent(event: StateChanged) -> None:
    # Async callbacks are awaited in order; a real service might notify an operator here.
    print(f"  code sent to +44{NUMBER}; the watcher reads it from the inbox")


async def main() -> None:
    config = SandboxConfig(
        speed=SPEED, scenarios=[Scenario(f"44{NUMBER}", withhold_code_until_resend=True)]
    )
    async with (
        run_sandbox(config) as sandbox,
        WhatsAppManager(
            base_url=sandbox.base_url,
            auth=JWTAuth(sandbox.application_id, sandbox.private_key_pem),
        ) as wam,
        sandbox.inbox() as inbox,
    ):
        created = await wam.deployments.create(
            DeploymentRequest(
                country_code="44",
                number=NUMBER,
                vname_certificate="certificate-from-the-dashboard",
                waba_id="123456789123",
            )
        )
        watcher = wam.watch(
            created.deployment_id,
            otp=inbox,
            policy=PollPolicy(interval=0.2),
            resend_after=1.0,  # the spec suggests 300 s; the sandbox is fast
            fallback_to_voice=True,
        )
        watcher.on_change(on_change)
        watcher.on(DeploymentState.CODE_SENT, on_code_sent)
        watcher.on(CodeRequested, lambda e: print(f"  asking for a code (attempt {e.attempt})"))
        watcher.on(CodeResent, lambda e: print(f"  no code yet: resent by {e.method}"))
        watcher.on(CodeVerified, lambda e: print("  code verified"))
        watcher.on(PollFailed, lambda e: print(f"  poll failed, retrying: {e.error}"))
        async with watcher:
            ready = await watcher.result()
        print(f"deployment {ready.deployment_id} is {ready.state}")


if __name__ == "__main__":
    asyncio.run(main())
