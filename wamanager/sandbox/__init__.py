"""A local server that simulates the whole WhatsApp Provisioning API.

Use it where the real API needs a paid account, a WhatsApp Business account and a phone:
demos, examples, your tests. It serves every operation of the spec (and ``GET /deployments``)
under ``/v0.1/whatsapp-manager``, moves deployments through the real state machine on a clock
that can run fast or be driven by hand, delivers OTP codes to a sandbox-only inbox
(``GET /_sandbox/deployments/{id}/otp``), and can misbehave on purpose: scenario rules per
number, a per-account rate limit, and seeded faults.

::

    from wamanager.sandbox import SandboxConfig, run_sandbox

    async with run_sandbox(SandboxConfig(speed=60)) as sandbox:
        async with sandbox.client() as wam:
            dep = await wam.deployments.create(...)

Or from a shell: ``wamanager sandbox --speed 60``.
"""

from ._app import API_PREFIX, ENGINE, INBOX_PREFIX, create_app
from ._clock import ManualClock, SandboxClock, ScaledClock
from ._config import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_APPLICATION_ID,
    DEFAULT_DURATIONS,
    Account,
    Application,
    FaultConfig,
    SandboxConfig,
    Scenario,
)
from ._engine import OtpMessage, SandboxEngine
from ._inbox import SandboxInbox
from ._runner import SandboxHandle, generate_application, run_sandbox

__all__ = [
    "API_PREFIX",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_DURATIONS",
    "ENGINE",
    "INBOX_PREFIX",
    "Account",
    "Application",
    "FaultConfig",
    "ManualClock",
    "OtpMessage",
    "SandboxClock",
    "SandboxConfig",
    "SandboxEngine",
    "SandboxHandle",
    "SandboxInbox",
    "ScaledClock",
    "Scenario",
    "create_app",
    "generate_application",
    "run_sandbox",
]
