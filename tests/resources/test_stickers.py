"""wam.stickers: deletes without an echo, first-party namespaces, emojis sent whole."""

from __future__ import annotations

from typing import Any

import pytest

import wamanager
from wamanager import WhatsAppManager
from wamanager.testing import BASE_PATH, FakeAPI

from .._support import DEP, OPS


async def test_delete_sticker_without_body_returns_none(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """Deleting a sticker that answers 204 (no echo) returns None."""
    api.reply(204)
    assert await OPS["deleteStickerByIndex"].call(client) is None


@pytest.mark.parametrize(
    ("call", "raw_path"),
    [
        pytest.param(
            lambda c: c.stickers.list(DEP, "wa-pack", namespace="whatsapp"),
            f"/deployments/{DEP}/stickerpacks/wa-pack/stickers",
            id="list",
        ),
        pytest.param(
            lambda c: c.stickers.get(DEP, "wa-pack", "3", namespace="whatsapp"),
            f"/deployments/{DEP}/stickerpacks/wa-pack/stickers/3",
            id="get",
        ),
    ],
)
async def test_first_party_namespace_on_sticker_paths(
    call: Any, raw_path: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """namespace="whatsapp" on the sticker paths is sent as a query parameter."""
    api.reply(200, {"stickers": [{"index": "3", "id": "m", "image_data_id": "i"}]})
    await call(client)
    assert api.requests[0].raw_path == BASE_PATH + raw_path
    assert api.requests[0].query == {"namespace": "whatsapp"}


@pytest.mark.parametrize(
    ("emojis", "sent"),
    [
        ("👍🏽", ["👍🏽"]),
        (["🇬🇧", "👨‍👩‍👧"], ["🇬🇧", "👨‍👩‍👧"]),
        (iter(["🐥"]), ["🐥"]),
    ],
    ids=["lone-string", "list", "iterator"],
)
async def test_sticker_emojis_are_sent_whole(
    emojis: Any, sent: list[str], api: FakeAPI, client: WhatsAppManager
) -> None:
    """Emojis made of several code points, or given as one string, are sent unsplit."""
    api.reply(200, {"stickers": [{"index": "1"}]})
    await client.stickers.create(DEP, "pack", "media", emojis)
    assert api.requests[0].json["emojis"] == sent


@pytest.mark.parametrize("namespace", ["what\nsapp", "\ud800"])
async def test_unsendable_namespace_is_rejected(
    namespace: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """A namespace with a control character or a lone surrogate raises ValidationError."""
    with pytest.raises(wamanager.ValidationError) as caught:
        await client.stickers.list(DEP, "pack", namespace=namespace)
    assert caught.value.fields == ("namespace",)
    assert api.requests == []
