"""The OTP sources of the command: SandboxOTP reads the sandbox inbox as the client does."""

from __future__ import annotations

import pytest

from wamanager import DeploymentRequest, WhatsAppManager
from wamanager._auth import BasicAuth
from wamanager._errors import Unauthorized
from wamanager.cli._otp_sources import SandboxOTP
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle

REQUEST = DeploymentRequest(
    country_code="44", number="7700900131", vname_certificate="c", waba_id="1"
)


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """The in-loop sandbox of the async tests here runs on a manual clock."""
    return SandboxConfig(clock=ManualClock())


async def test_sandbox_otp_reads_the_inbox_as_the_client(
    wamanager_sandbox: SandboxHandle, wam: WhatsAppManager
) -> None:
    """SandboxOTP answers None before a code, then the code; other credentials get 401."""
    created = await wam.deployments.create(REQUEST)
    async with SandboxOTP(wam) as inbox:
        assert await inbox(created) is None
        wamanager_sandbox.advance(130)
        code = await inbox(await wam.deployments.get(created.deployment_id))
    message = wamanager_sandbox.otp(created.deployment_id)
    assert message is not None
    assert code == message.code
    stranger = WhatsAppManager(BasicAuth("nobody", "nothing"), base_url=wam.base_url)
    async with stranger, SandboxOTP(stranger) as inbox:
        with pytest.raises(Unauthorized):
            await inbox(created)
