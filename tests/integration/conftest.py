"""Integration tests: the real client against a sandbox over loopback HTTP.

They use the ``wamanager.testing`` fixtures; the sandbox runs on a manual clock, so tests
move time with ``sandbox.advance(...)`` instead of sleeping.
"""

from __future__ import annotations

import pytest

from wamanager import DeploymentRequest, WhatsAppManager
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """A sandbox on a manual clock, seeded."""
    return SandboxConfig(clock=ManualClock(), seed=3)


def request(number: str = "7700900000", method: str = "sms") -> DeploymentRequest:
    """A valid deployment request for ``44<number>``."""
    return DeploymentRequest(
        country_code="44", number=number, vname_certificate="cert", waba_id="123", method=method
    )


async def code_sent(
    wam: WhatsAppManager, sandbox: SandboxHandle, number: str = "7700900000"
) -> str:
    """Create a deployment and move it to CODE_SENT; returns its id."""
    dep = await wam.deployments.create(request(number))
    sandbox.advance(130)
    return dep.deployment_id


async def ready(wam: WhatsAppManager, sandbox: SandboxHandle, number: str = "7700900000") -> str:
    """Create a deployment and take it to READY; returns its id."""
    dep_id = await code_sent(wam, sandbox, number)
    message = sandbox.otp(dep_id)
    assert message is not None
    await wam.otp.verify(dep_id, message.code)
    sandbox.advance(35)
    return dep_id
