"""Sticker packs in the sandbox: WhatsApp's limits of 30 stickers a pack and a bounded number
of packs a deployment."""

from __future__ import annotations

import pytest

from wamanager.sandbox import STICKERS_PER_PACK, ManualClock, SandboxConfig, SandboxHandle

from .helpers import call, fragment


async def test_a_pack_holds_at_most_30_stickers_and_a_deployment_bounded_packs(
    sandbox: SandboxHandle,
) -> None:
    """The 31st sticker and the pack beyond max_stickerpacks answer 400 naming the limit."""
    engine = sandbox.engine
    dep = engine.create(KEY, country_code="44", number="7700900000", waba_id="1", method="sms")
    sandbox.advance(130)
    engine.verify(KEY, dep.deployment_id, engine.find(KEY, dep.deployment_id).code or "")
    sandbox.advance(35)
    base = f"/deployments/{dep.deployment_id}/stickerpacks"
    status, body, _ = await call(sandbox, "POST", base, {"publisher": "p", "name": "n"})
    pack = body["stickerpacks"][0]["id"]
    for i in range(STICKERS_PER_PACK):
        status, _, _ = await call(
            sandbox, "POST", f"{base}/{pack}/stickers", {"image_data_id": f"m{i}"}
        )
        assert status == 200
    status, body, _ = await call(sandbox, "POST", f"{base}/{pack}/stickers", {"image_data_id": "x"})
    assert (status, fragment(body), body["invalid_parameters"][0]["name"]) == (
        400,
        "invalid-json",
        "stickers",
    )
    for _ in range(sandbox.config.max_stickerpacks - 1):
        engine.create_pack(KEY, dep.deployment_id, {"name": "n", "publisher": "p"})
    status, body, _ = await call(sandbox, "POST", base, {"publisher": "p", "name": "n"})
    assert (status, body["invalid_parameters"][0]["name"]) == (400, "stickerpacks")


KEY = "sandbox-key"


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """A sandbox on a manual clock, without a rate limit unless a test makes its own."""
    return SandboxConfig(clock=ManualClock(), rate_limit=None)
