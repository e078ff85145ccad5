"""Sticker packs: a deployment's own, WhatsApp's first-party ones, and WhatsApp's limits.

A pack is ``{"details": {...}, "stickers": {index: sticker}, "next": next index}``; indexes
are strings, never reused within a pack. ``namespace="whatsapp"`` addresses WhatsApp's own
packs (:data:`FIRST_PARTY_PACKS`), which can be read but not changed.
"""

from __future__ import annotations

import random
from typing import Any

from ._problems import invalid_json, not_found

__all__ = ["FIRST_PARTY_PACKS", "STICKERS_PER_PACK", "StickerPacks"]

#: WhatsApp's limit of stickers in one pack.
STICKERS_PER_PACK = 30

#: WhatsApp's own sticker packs (``?namespace=whatsapp``): pack id → (details, stickers).
FIRST_PARTY_PACKS: dict[str, dict[str, Any]] = {
    "whatsapp-cuppy": {
        "details": {"name": "Cuppy", "publisher": "WhatsApp"},
        "stickers": {
            "0": {"id": "cuppy-0", "image_data_id": "cuppy-media-0", "emojis": ["☕"]},
            "1": {"id": "cuppy-1", "image_data_id": "cuppy-media-1", "emojis": ["😃", "☕"]},
        },
    },
    "whatsapp-bibimbap": {
        "details": {"name": "Bibimbap Friends", "publisher": "WhatsApp"},
        "stickers": {
            "0": {"id": "bibimbap-0", "image_data_id": "bibimbap-media-0", "emojis": ["🍚"]},
        },
    },
}


class StickerPacks:
    """One deployment's sticker packs, and a view of WhatsApp's own.

    Errors are the answers the API gives: 404 for an unknown pack or sticker, 400 past a
    limit. ``namespace`` is the request's ``?namespace=`` (``"whatsapp"``: first-party packs).
    """

    def __init__(self) -> None:
        self._own: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._own)

    def __repr__(self) -> str:
        return f"StickerPacks({list(self._own)!r})"

    def ids(self, namespace: str | None) -> list[str]:
        """The ids of the packs in ``namespace``, oldest first."""
        return list(FIRST_PARTY_PACKS if namespace == "whatsapp" else self._own)

    def create(self, details: dict[str, Any], *, limit: int, rng: random.Random) -> str:
        """Add a third-party pack, its id drawn from ``rng``; 400 when ``limit`` are held."""
        if len(self._own) >= limit:
            raise invalid_json(
                f"This deployment holds {len(self._own)} sticker packs, the sandbox's limit; "
                "no more can be created.",
                [("stickerpacks", f"at most {limit} per deployment")],
            )
        pack_id = f"pack-{rng.getrandbits(48):012x}"
        self._own[pack_id] = {"details": details, "stickers": {}, "next": 0}
        return pack_id

    def get(self, pack_id: str, namespace: str | None) -> dict[str, Any]:
        """A pack; 404 when unknown."""
        packs = FIRST_PARTY_PACKS if namespace == "whatsapp" else self._own
        found = packs.get(pack_id)
        if found is None:
            raise not_found(f"Stickerpack {pack_id} does not exist.")
        return found

    def add_sticker(self, pack_id: str, sticker: dict[str, Any]) -> str:
        """Add a sticker to a third-party pack; returns its index. 400 when the pack holds
        :data:`STICKERS_PER_PACK` (WhatsApp's limit)."""
        pack = self.get(pack_id, None)
        if len(pack["stickers"]) >= STICKERS_PER_PACK:
            raise invalid_json(
                f"Stickerpack {pack_id} holds {STICKERS_PER_PACK} stickers, WhatsApp's limit; "
                "delete one first.",
                [("stickers", f"at most {STICKERS_PER_PACK} per stickerpack")],
            )
        index = str(pack["next"])
        pack["next"] += 1
        pack["stickers"][index] = {"id": f"{pack_id}-{index}", **sticker}
        return index

    def sticker(
        self, pack_id: str, index: str, namespace: str | None, *, remove: bool = False
    ) -> dict[str, Any]:
        """One sticker (removed from its pack with ``remove``); 404 when unknown, and for
        removing one of WhatsApp's."""
        pack = self.get(pack_id, namespace)
        found: dict[str, Any] | None = pack["stickers"].get(index)
        if found is None:
            raise not_found(f"Sticker {index} does not exist in stickerpack {pack_id}.")
        if remove:
            if namespace == "whatsapp":
                raise not_found(f"Sticker {index} of a WhatsApp stickerpack cannot be deleted.")
            del pack["stickers"][index]
        return found
