"""``/deployments/{id}/stickerpacks/{pack}/stickers``: the stickers of a pack."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from .._models import Sticker, StickerCreate, StickerDetails, StickerList, StickerRef
from ._base import Resource, namespace_query, parse

_STICKERS = "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers"
_ONE = _STICKERS + "/{sticker_index}"


def _ids(deployment_id: str, pack_id: str) -> dict[str, str]:
    return {"deployment_id": deployment_id, "stickerpack_id": pack_id}


def _sticker_ids(deployment_id: str, pack_id: str, index: str) -> dict[str, str]:
    return {**_ids(deployment_id, pack_id), "sticker_index": index}


class Stickers(Resource):
    """Stickers inside a sticker pack."""

    __slots__ = ()

    async def list(
        self, deployment_id: str, pack_id: str, namespace: str | None = None
    ) -> builtins.list[StickerRef]:
        """The indexes of a pack's stickers (``namespace="whatsapp"`` for first-party packs)."""
        listed = await self._call(
            "GET",
            _STICKERS,
            StickerList,
            "list stickers",
            ids=_ids(deployment_id, pack_id),
            query=namespace_query(namespace),
        )
        return builtins.list(listed.stickers)

    async def create(
        self,
        deployment_id: str,
        pack_id: str,
        image_data_id: str,
        emojis: Iterable[str] = (),
    ) -> StickerRef:
        """Add a sticker (its uploaded media id and emojis); returns its index.

        ``image_data_id`` is required (:class:`~wamanager.ValidationError`).
        """
        # The model's converter takes a lone string as one emoji; tuple() would split it
        # into code points and break emojis made of several ("👍🏽", flags).
        return await self._call_first(
            "POST",
            _STICKERS,
            StickerList,
            "create sticker",
            lambda made: made.stickers,
            ids=_ids(deployment_id, pack_id),
            body=StickerCreate(image_data_id=image_data_id, emojis=emojis),
        )

    async def get(
        self, deployment_id: str, pack_id: str, index: str, namespace: str | None = None
    ) -> Sticker:
        """One sticker's media ids and emojis."""
        return await self._call_first(
            "GET",
            _ONE,
            StickerDetails,
            "get sticker",
            lambda found: found.stickers,
            ids=_sticker_ids(deployment_id, pack_id, index),
            query=namespace_query(namespace),
        )

    async def delete(self, deployment_id: str, pack_id: str, index: str) -> Sticker | None:
        """Delete a sticker; returns the deleted sticker when the API echoes it."""
        response = await self._send("DELETE", _ONE, _sticker_ids(deployment_id, pack_id, index))
        if response.data is None:
            return None
        stickers = parse(response, StickerDetails, what="delete sticker").stickers
        return stickers[0] if stickers else None
