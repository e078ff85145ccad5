"""``/deployments/{id}/stickerpacks/{pack}/stickers``: the stickers of a pack."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from ..models import (
    Sticker,
    StickerCreate,
    StickerDetails,
    StickerList,
    StickerRef,
    unstructure,
)
from ..rules import validate
from ._base import Resource, first, namespace_query, parse

_STICKERS = "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers"
_ONE = _STICKERS + "/{sticker_index}"


class Stickers(Resource):
    """Stickers inside a sticker pack."""

    __slots__ = ()

    async def list(
        self, deployment_id: str, pack_id: str, namespace: str | None = None
    ) -> builtins.list[StickerRef]:
        """The indexes of a pack's stickers (``namespace="whatsapp"`` for first-party packs)."""
        response = await self._session.request(
            "GET",
            _STICKERS,
            path_params={"deployment_id": deployment_id, "stickerpack_id": pack_id},
            params=namespace_query(namespace),
        )
        return builtins.list(parse(response, StickerList, what="list stickers").stickers)

    async def create(
        self,
        deployment_id: str,
        pack_id: str,
        image_data_id: str,
        emojis: Iterable[str] = (),
    ) -> StickerRef:
        """Add a sticker (its uploaded media id and emojis); returns its index.

        ``image_data_id`` is required (:class:`~wamanager.errors.ValidationError`).
        """
        # The model's converter takes a lone string as one emoji; tuple() would split it
        # into code points and break emojis made of several ("👍🏽", flags).
        request = StickerCreate(image_data_id=image_data_id, emojis=emojis)
        validate(request)
        response = await self._session.request(
            "POST",
            _STICKERS,
            path_params={"deployment_id": deployment_id, "stickerpack_id": pack_id},
            json_body=unstructure(request),
        )
        stickers = parse(response, StickerList, what="create sticker").stickers
        return first(stickers, what="create sticker", status=response.status)

    async def get(
        self, deployment_id: str, pack_id: str, index: str, namespace: str | None = None
    ) -> Sticker:
        """One sticker's media ids and emojis."""
        response = await self._session.request(
            "GET",
            _ONE,
            path_params={
                "deployment_id": deployment_id,
                "stickerpack_id": pack_id,
                "sticker_index": index,
            },
            params=namespace_query(namespace),
        )
        details = parse(response, StickerDetails, what="get sticker").stickers
        return first(details, what="get sticker", status=response.status)

    async def delete(self, deployment_id: str, pack_id: str, index: str) -> Sticker | None:
        """Delete a sticker; returns the deleted sticker when the API echoes it."""
        response = await self._session.request(
            "DELETE",
            _ONE,
            path_params={
                "deployment_id": deployment_id,
                "stickerpack_id": pack_id,
                "sticker_index": index,
            },
        )
        if response.data is None:
            return None
        stickers = parse(response, StickerDetails, what="delete sticker").stickers
        return stickers[0] if stickers else None
