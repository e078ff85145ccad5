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

# Where each concern lives (moto's split: models.py state, responses.py handlers, urls.py
# routes), state first, then the web application, then serving it:
#
#   _config.py         SandboxConfig, accounts, applications, scenarios, faults; URL prefixes
#   _clock.py          sandbox time: ScaledClock, ManualClock
#   _engine.py         state and rules: deployments per account, the state machine, OTP codes
#   _records.py        what the engine stores: StoredDeployment, OTPMessage
#   _stickers.py       sticker packs: a deployment's own, WhatsApp's, WhatsApp's limits
#   _stats.py          counters of what was served
#   _problems.py       JSON answers; problem details in the spec's shapes
#   _request_body.py   a request body -> the shared rules (wamanager._rules) -> each
#                      operation's error answer
#   _handlers.py       one handler per API operation
#   _control.py        the control API under /_sandbox and the OTP inbox; reset_app, set_faults
#   _auth.py           Bearer JWTs (and Basic) checked as Vonage checks them; minting them
#   _rate_limit.py     the per-account token buckets
#   _faults.py         seeded fault injection
#   _middleware.py     stats, problem answers, faults, auth and the rate limit, in that order
#   _app_keys.py       the typed keys under which the application keeps its parts
#   _routes.py         the API's routes and create_app
#   _runner.py         run_sandbox: serving on a port, TLS, the SandboxHandle
#   _inbox.py          SandboxInbox: an OTP provider reading the inbox over HTTP
#
# tests/sandbox/test_layout.py pins which of these may import which.

from ._app_keys import ENGINE
from ._auth import TokenMinter, mint_jwt
from ._clock import ManualClock, SandboxClock, ScaledClock
from ._config import (
    API_PREFIX,
    CONTROL_PREFIX,
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_APPLICATION_ID,
    DEFAULT_DURATIONS,
    INBOX_PREFIX,
    ON_PREMISES_BLOCKED_DETAIL,
    REGISTRATION_LIMIT_DETAIL,
    Account,
    Application,
    FaultConfig,
    SandboxConfig,
    Scenario,
)
from ._engine import SandboxEngine
from ._inbox import SandboxInbox
from ._records import OTPMessage
from ._request_body import MAX_DEPTH
from ._routes import create_app
from ._runner import SandboxHandle, generate_application, run_sandbox
from ._stats import SandboxStats
from ._stickers import STICKERS_PER_PACK

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
