"""``/deployments/{id}/stickerpacks``: third-party and first-party sticker packs."""

from __future__ import annotations

import builtins

from ..models import (
    Stickerpack,
    StickerpackCreate,
    StickerpackDetails,
    StickerpackList,
    StickerpackRef,
    unstructure,
)
from ..rules import validate
from ._base import Resource, first, namespace_query, parse

_PACKS = "/deployments/{deployment_id}/stickerpacks"


class Stickerpacks(Resource):
    """Sticker packs of a READY deployment."""

    __slots__ = ()

    async def list(
        self, deployment_id: str, namespace: str | None = None
    ) -> builtins.list[StickerpackRef]:
        """The deployment's third-party packs, or WhatsApp's own with ``namespace="whatsapp"``."""
        response = await self._session.request(
            "GET",
            _PACKS,
            path_params={"deployment_id": deployment_id},
            params=namespace_query(namespace),
        )
        return builtins.list(
            parse(response, StickerpackList, what="list stickerpacks").stickerpacks
        )

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

        ``publisher`` and ``name`` are required (:class:`~wamanager.errors.ValidationError`).
        """
        request = StickerpackCreate(
            publisher=publisher,
            name=name,
            ios_app_store_link=ios_app_store_link,
            android_app_store_link=android_app_store_link,
        )
        validate(request)
        response = await self._session.request(
            "POST",
            _PACKS,
            path_params={"deployment_id": deployment_id},
            json_body=unstructure(request),
        )
        packs = parse(response, StickerpackList, what="create stickerpack").stickerpacks
        return first(packs, what="create stickerpack", status=response.status)

    async def get(self, deployment_id: str, pack_id: str) -> Stickerpack:
        """One pack's name, publisher and store links."""
        response = await self._session.request(
            "GET",
            _PACKS + "/{stickerpack_id}",
            path_params={"deployment_id": deployment_id, "stickerpack_id": pack_id},
        )
        packs = parse(response, StickerpackDetails, what="get stickerpack").stickerpacks
        return first(packs, what="get stickerpack", status=response.status)
