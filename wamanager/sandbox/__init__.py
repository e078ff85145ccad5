"""A local server that simulates the whole WhatsApp Provisioning API.

Use it where the real API needs a paid account, a WhatsApp Business account and a phone:
demos, examples, your tests. It serves every operation of the spec (and ``GET /deployments``)
under ``/v0.1/whatsapp-manager``, checks Bearer JWTs and request bodies as production does,
moves deployments through the real state machine on a clock that can run fast or be driven
by hand, delivers OTP codes to a sandbox-only inbox
(``GET /_sandbox/deployments/{id}/otp``), limits each account's request rate, and can
misbehave on purpose: scenario rules per number and seeded faults. A control API under
``/_sandbox`` resets it, moves its clock, sets scenarios and reports what it served.

::

    from wamanager.sandbox import SandboxConfig, run_sandbox
    from wamanager.testing import sandbox_client

    async with run_sandbox(SandboxConfig(speed=60)) as sandbox:
        async with sandbox_client(sandbox) as wam:
            dep = await wam.deployments.create(...)

Or from a shell: ``wamanager sandbox --speed 60``.

The sandbox shares the request rules, models and states with the client, never the client
itself.
"""

from ._app import API_PREFIX, CONTROL_PREFIX, ENGINE, INBOX_PREFIX, MAX_DEPTH, create_app
from ._auth import TokenMinter, mint_jwt
from ._clock import ManualClock, SandboxClock, ScaledClock
from ._config import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_APPLICATION_ID,
    DEFAULT_DURATIONS,
    ON_PREMISES_BLOCKED_DETAIL,
    REGISTRATION_LIMIT_DETAIL,
    Account,
    Application,
    FaultConfig,
    SandboxConfig,
    Scenario,
)
from ._engine import STICKERS_PER_PACK, OTPMessage, SandboxEngine
from ._inbox import SandboxInbox
from ._runner import SandboxHandle, generate_application, run_sandbox
from ._stats import SandboxStats

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_DURATIONS",
    "ENGINE",
    "INBOX_PREFIX",
    "MAX_DEPTH",
    "ON_PREMISES_BLOCKED_DETAIL",
    "REGISTRATION_LIMIT_DETAIL",
    "STICKERS_PER_PACK",
    "Account",
    "Application",
    "FaultConfig",
    "ManualClock",
    "OTPMessage",
    "SandboxClock",
    "SandboxConfig",
    "SandboxEngine",
    "SandboxHandle",
    "SandboxInbox",
    "SandboxStats",
    "ScaledClock",
    "Scenario",
    "TokenMinter",
    "create_app",
    "generate_application",
    "mint_jwt",
    "run_sandbox",
]
