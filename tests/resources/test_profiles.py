"""wam.profiles: invalid parameters named, and updates retried like a GET."""

from __future__ import annotations

import pytest

from wamanager import InvalidParameters, WhatsAppManager
from wamanager.testing import FakeAPI

from .._support import OPS


async def test_invalid_parameters_on_profile_update_are_parsed(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """422 #unprocessable-profile-update exposes each invalid parameter and names it in str()."""
    api.reply(
        422,
        {
            "type": "https://developer.vonage.com/api-errors/whatsapp-provisioning#unprocessable-profile-update",
            "title": "Unprocessable Entity",
            "detail": "Invalid profile",
            "instance": "trace-1",
            "invalid_parameters": [
                {"name": "email", "reason": "Email format invalid"},
                {"name": "about", "reason": "Too long"},
            ],
        },
    )
    with pytest.raises(InvalidParameters) as caught:
        await OPS["updateProfile"].call(client)
    assert [(p.name, p.reason) for p in caught.value.invalid_parameters] == [
        ("email", "Email format invalid"),
        ("about", "Too long"),
    ]
    assert "email: Email format invalid" in str(caught.value)
    assert "instance=trace-1" in str(caught.value)


@pytest.mark.parametrize("op_id", ["updateProfile", "updateProfilePhoto"])
@pytest.mark.parametrize("failure", ["503", "drop", "malformed"])
async def test_profile_and_photo_updates_are_retried_like_a_get(
    op_id: str, failure: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """PATCH profile and POST photo are replay-safe: retried after a 5xx, a dropped
    connection or a cut-short body, with the same body."""
    op = OPS[op_id]
    if failure == "503":
        api.reply(503)
    elif failure == "drop":
        api.drop()
        api.drop()  # aiohttp itself resends an idempotent PATCH once after a drop
    else:
        api.reply(op.status, text='{"image_url": "https://ww', content_type="application/json")
    api.reply(op.status, op.body)
    op.check(await op.call(client))
    assert len({r.body for r in api.requests}) == 1
    assert api.requests[-1].method == op.http_method
