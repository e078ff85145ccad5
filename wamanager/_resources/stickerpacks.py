"""``/deployments/{id}/stickerpacks``: third-party and first-party sticker packs."""

from __future__ import annotations

import builtins

from .._models import (
    Stickerpack,
    StickerpackCreate,
    StickerpackDetails,
    StickerpackList,
    StickerpackRef,
)
from ._base import Resource, namespace_query

_PACKS = "/deployments/{deployment_id}/stickerpacks"
_ONE = _PACKS + "/{stickerpack_id}"


class Stickerpacks(Resource):
    """Sticker packs of a READY deployment."""

    __slots__ = ()

    async def list(
        self, deployment_id: str, namespace: str | None = None
    ) -> builtins.list[StickerpackRef]:
        """The deployment's third-party packs, or WhatsApp's own with ``namespace="whatsapp"``."""
        packs = await self._call(
            "GET",
            _PACKS,
            StickerpackList,
            "list stickerpacks",
            ids={"deployment_id": deployment_id},
            query=namespace_query(namespace),
        )
        return builtins.list(packs.stickerpacks)

    async def create(
        self,
        deployment_id: str,
        publisher: str,
        name: str,
        *,
        ios_app_store_link: str | None = None,
        android_app_store_link: str | None = None,
    ) -> StickerpackRef:
        """Create a third-party pack and return its id.

        The API answers 200 with ``{"stickerpacks": [{"id": ...}]}``.

        ``publisher`` and ``name`` are required (:class:`~wamanager.ValidationError`).
        """
        request = StickerpackCreate(
            publisher=publisher,
            name=name,
            ios_app_store_link=ios_app_store_link,
            android_app_store_link=android_app_store_link,
        )
        return await self._call_first(
            "POST",
            _PACKS,
            StickerpackList,
            "create stickerpack",
            lambda made: made.stickerpacks,
            ids={"deployment_id": deployment_id},
            body=request,
        )

    async def get(self, deployment_id: str, pack_id: str) -> Stickerpack:
        """One pack's name, publisher and store links."""
        return await self._call_first(
            "GET",
            _ONE,
            StickerpackDetails,
            "get stickerpack",
            lambda found: found.stickerpacks,
            ids={"deployment_id": deployment_id, "stickerpack_id": pack_id},
        )
