"""One-call onboarding: create, verify the OTP, wait for READY, set the profile.

Runs against an embedded sandbox with no arguments:  python examples/provision.py
Against the real API, replace the sandbox with your credentials and an OTP provider that asks
a person (or your SMS gateway) for the code.
"""

from __future__ import annotations

import asyncio
import os

from wamanager import (
    DeploymentRequest,
    JWTAuth,
    PollPolicy,
    Profile,
    StateChanged,
    Vertical,
    WhatsAppManager,
    provision,
)
from wamanager.sandbox import SandboxConfig, run_sandbox

SPEED = float(os.environ.get("WAMANAGER_SANDBOX_SPEED", "60"))


async def main() -> None:
    async with (
        run_sandbox(SandboxConfig(speed=SPEED)) as sandbox,
        WhatsAppManager(
            base_url=sandbox.base_url,
            auth=JWTAuth(sandbox.application_id, sandbox.private_key_pem),
        ) as wam,
        sandbox.inbox() as inbox,  # reads the sandbox-only OTP inbox over HTTP
    ):
        deployment = await provision(
            wam,
            DeploymentRequest(
                country_code="44",
                number="7700900001",
                vname_certificate="certificate-from-the-dashboard",
                waba_id="123456789123",
                method="sms",
            ),
            otp=inbox,
            profile=Profile(about="Fresh bread daily", vertical=Vertical.RESTAURANT),
            photo_url="https://cdn.example.com/logo.png",
            policy=PollPolicy(interval=0.2),  # the sandbox runs fast; real stages take minutes
            on_event=lambda e: print("  ", e.current) if isinstance(e, StateChanged) else None,
        )
        print(f"deployment {deployment.deployment_id} is {deployment.state}")
        print("profile:", await wam.profiles.get(deployment.deployment_id))


if __name__ == "__main__":
    asyncio.run(main())
