"""``wamanager demo``: a whole onboarding against an embedded sandbox, narrated.

It goes the way an operator would: credentials from the environment variables a sandbox
hands out (JWT), ``deploy --otp-from-sandbox``'s live watch, then the profile, the photo
and a sticker pack.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .._client import WhatsAppManager
from .._models import DeploymentRequest, Profile, Vertical
from .._policy import PollPolicy
from ..sandbox import SandboxConfig, run_sandbox
from ._deployments import SANDBOX_INTERVAL, follow
from ._otp_sources import SandboxOTP
from ._output import Output
from ._sandbox import sandbox_environ

__all__ = ["run_demo"]


async def run_demo(*, speed: float = 60.0, out: Output) -> None:
    """Provision a number on a fresh sandbox, then set its profile, photo and a sticker pack."""
    started = datetime.now(timezone.utc)

    def say(text: str) -> None:
        elapsed = (datetime.now(timezone.utc) - started).total_seconds()
        out.line(f"[{elapsed:6.1f}s] {text}")

    async with run_sandbox(SandboxConfig(speed=speed)) as sandbox:
        environ = sandbox_environ(sandbox, sandbox.private_key_pem or "")
        say(f"sandbox running at {sandbox.base_url} (speed x{speed:g})")
        async with WhatsAppManager.from_env(environ) as wam, SandboxOTP(wam) as inbox:
            say(f"signed in with a JWT of application {sandbox.application_id}")
            request = DeploymentRequest(
                country_code="44",
                number="7700900123",
                vname_certificate="demo-certificate",
                waba_id="123456789123",
                method="sms",
            )
            deployment_id = (await wam.deployments.create(request)).deployment_id
            say(f"deploying +44 7700900123 as {deployment_id}")
            # About one poll per 15 sandbox seconds: live at any speed, never a busy loop.
            policy = PollPolicy(interval=min(SANDBOX_INTERVAL, 15 / speed))
            await follow(wam, out, deployment_id, otp=inbox, policy=policy, started=started)
            profile = Profile(about="Fresh bread daily", vertical=Vertical.RESTAURANT)
            await wam.profiles.update(deployment_id, profile)
            say(f"profile set: {profile.about!r}, vertical {Vertical.RESTAURANT.value}")
            photo = await wam.profiles.update_photo(
                deployment_id, "https://cdn.example.com/logo.png"
            )
            say(f"photo set from {photo.image_url}")
            pack = await wam.stickerpacks.create(deployment_id, "Demo Bakery", "Loaves")
            sticker = await wam.stickers.create(deployment_id, pack.id, "media-1", ["🍞"])
            say(f"sticker pack {pack.id} created with sticker {sticker.index}")
    say("done")
