"""``wamanager demo``: a whole onboarding against an embedded sandbox, narrated."""

from __future__ import annotations

import time
from collections.abc import Callable

from .auth import JWTAuth
from .client import WhatsAppManager
from .events import (
    CodeRejected,
    CodeRequested,
    CodeResent,
    CodeVerified,
    Event,
    PollFailed,
    StateChanged,
    Succeeded,
)
from .models import Deployment, DeploymentRequest, Profile, Vertical
from .policy import PollPolicy
from .provisioning import provision
from .sandbox import SandboxConfig, SandboxInbox, run_sandbox

__all__ = ["run_demo"]


def _describe(event: Event) -> str | None:
    if isinstance(event, StateChanged):
        detail = event.deployment.detail
        return f"state {event.current}" + (f" ({detail})" if detail else "")
    if isinstance(event, CodeRequested):
        return "waiting for the OTP code (reading the sandbox inbox)"
    if isinstance(event, CodeVerified):
        return "OTP code verified"
    if isinstance(event, CodeRejected):
        return f"OTP code rejected: {event.reason}"
    if isinstance(event, CodeResent):
        return f"OTP code resent by {event.method}"
    if isinstance(event, PollFailed):
        return f"poll failed ({type(event.error).__name__}), retrying"
    if isinstance(event, Succeeded):
        return "deployment READY"
    return None


async def run_demo(*, speed: float = 60.0, out: Callable[[str], None] = print) -> int:
    """Provision a number on a fresh sandbox, set its profile and a sticker pack; exit code."""
    started = time.monotonic()

    def log(message: str) -> None:
        out(f"[{time.monotonic() - started:5.1f}s] {message}")

    async with run_sandbox(SandboxConfig(speed=speed)) as sandbox:
        log(f"sandbox running at {sandbox.base_url} (speed x{speed:g})")
        auth = JWTAuth(sandbox.application_id, sandbox.private_key_pem or "")
        inbox = SandboxInbox(sandbox.root_url, auth.authorization)
        async with WhatsAppManager(base_url=sandbox.base_url, auth=auth) as wam, inbox:
            deployment = await _onboard(wam, inbox, log)
            pack = await wam.stickerpacks.create(
                deployment.deployment_id, publisher="Demo Bakery", name="Loaves"
            )
            sticker = await wam.stickers.create(
                deployment.deployment_id, pack.id, image_data_id="media-1", emojis=["🍞"]
            )
            log(f"sticker pack {pack.id} created with sticker {sticker.index}")
            profile = await wam.profile.get(deployment.deployment_id)
            log(f"profile: {profile.about!r}, vertical {profile.vertical}")
    log("done")
    return 0


async def _onboard(
    wam: WhatsAppManager, inbox: SandboxInbox, log: Callable[[str], None]
) -> Deployment:
    def on_event(event: Event) -> None:
        text = _describe(event)
        if text:
            log(text)

    request = DeploymentRequest(
        country_code="44",
        number="7700900123",
        vname_certificate="demo-certificate",
        waba_id="123456789123",
        method="sms",
    )
    log(f"provisioning +{request.msisdn}")
    deployment = await provision(
        wam,
        request,
        otp=inbox,
        profile=Profile(about="Fresh bread daily", vertical=Vertical.RESTAURANT),
        photo_url="https://cdn.example.com/logo.png",
        policy=PollPolicy(interval=0.25),
        on_event=on_event,
    )
    log(f"deployment {deployment.deployment_id} is READY; profile and photo applied")
    return deployment
