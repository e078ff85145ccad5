"""wam.stickerpacks: namespaces checked before sending, an empty create answer."""

from __future__ import annotations

from typing import Any

import pytest

import wamanager
from wamanager import UnexpectedResponse, WhatsAppManager
from wamanager.testing import FakeAPI

from .._support import DEP, OPS


@pytest.mark.parametrize("namespace", ["", 5])
async def test_bad_namespace_is_rejected_before_sending(
    namespace: Any, api: FakeAPI, client: WhatsAppManager
) -> None:
    """An empty or non-string namespace raises ValidationError and sends nothing."""
    with pytest.raises(wamanager.ValidationError) as caught:
        await client.stickerpacks.list(DEP, namespace=namespace)
    assert caught.value.fields == ("namespace",)
    assert api.requests == []


async def test_empty_pack_list_names_the_status(api: FakeAPI, client: WhatsAppManager) -> None:
    """A create-pack answer holding no pack raises UnexpectedResponse with its own status."""
    api.reply(201, {"stickerpacks": []})
    with pytest.raises(UnexpectedResponse) as caught:
        await OPS["createStickerpacks"].call(client)
    assert caught.value.status == 201
