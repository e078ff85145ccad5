"""``stickerpacks list|create|get`` and ``stickers list|create|get|delete``."""

from __future__ import annotations

import click

from .._client import WhatsAppManager
from .._models import Sticker, Stickerpack
from ._options import api_command
from ._output import Output

__all__ = ["COMMANDS"]

_NAMESPACE = click.option("--namespace", help="'whatsapp' for WhatsApp's own (first-party) packs.")


def _show_pack(out: Output, pack: Stickerpack) -> None:
    out.result_record(
        pack,
        [
            ("name", pack.name),
            ("publisher", pack.publisher),
            ("iOS App Store", pack.ios_app_store_link),
            ("Google Play", pack.android_app_store_link),
        ],
    )


def _show_sticker(out: Output, sticker: Sticker) -> None:
    out.result_record(
        sticker,
        [
            ("id", sticker.id),
            ("image data id", sticker.image_data_id),
            ("emojis", " ".join(sticker.emojis) or None),
        ],
    )


@click.group(short_help="List, create or show sticker packs.")
def stickerpacks() -> None:
    """The sticker packs of a READY deployment."""


@api_command("list", short_help="List the sticker packs.")
@click.argument("deployment_id")
@_NAMESPACE
async def stickerpacks_list(
    wam: WhatsAppManager, out: Output, deployment_id: str, namespace: str | None
) -> None:
    """List the ids of the sticker packs of DEPLOYMENT_ID (JSON: an array)."""
    packs = await wam.stickerpacks.list(deployment_id, namespace=namespace)
    out.result_table(packs, ["STICKERPACK"], [[pack.id] for pack in packs])


@api_command("create", short_help="Create a sticker pack.")
@click.argument("deployment_id")
@click.option("--publisher", required=True, help="Who publishes the pack.")
@click.option("--name", required=True, help="The pack's name.")
@click.option("--ios-app-store-link", help="The pack's app on the iOS App Store.")
@click.option("--android-app-store-link", help="The pack's app on Google Play.")
async def stickerpacks_create(
    wam: WhatsAppManager,
    out: Output,
    deployment_id: str,
    publisher: str,
    name: str,
    ios_app_store_link: str | None,
    android_app_store_link: str | None,
) -> None:
    """Create a third-party sticker pack for DEPLOYMENT_ID; prints its id."""
    ref = await wam.stickerpacks.create(
        deployment_id,
        publisher,
        name,
        ios_app_store_link=ios_app_store_link,
        android_app_store_link=android_app_store_link,
    )
    out.result_line(ref, f"sticker pack {ref.id} created")


@api_command("get", short_help="Show a sticker pack.")
@click.argument("deployment_id")
@click.argument("pack_id")
async def stickerpacks_get(
    wam: WhatsAppManager, out: Output, deployment_id: str, pack_id: str
) -> None:
    """Show sticker pack PACK_ID of DEPLOYMENT_ID: its name, publisher and store links."""
    _show_pack(out, await wam.stickerpacks.get(deployment_id, pack_id))


for _command in (stickerpacks_list, stickerpacks_create, stickerpacks_get):
    stickerpacks.add_command(_command)


@click.group(short_help="List, add, show or delete the stickers of a pack.")
def stickers() -> None:
    """The stickers inside a sticker pack."""


@api_command("list", short_help="List a pack's stickers.")
@click.argument("deployment_id")
@click.argument("pack_id")
@_NAMESPACE
async def stickers_list(
    wam: WhatsAppManager, out: Output, deployment_id: str, pack_id: str, namespace: str | None
) -> None:
    """List the indexes of the stickers in PACK_ID of DEPLOYMENT_ID (JSON: an array)."""
    refs = await wam.stickers.list(deployment_id, pack_id, namespace=namespace)
    out.result_table(refs, ["INDEX"], [[ref.index] for ref in refs])


@api_command("create", short_help="Add a sticker to a pack.")
@click.argument("deployment_id")
@click.argument("pack_id")
@click.option("--image-data-id", required=True, help="The uploaded image's media id.")
@click.option("--emoji", "emojis", multiple=True, help="An emoji for the sticker (repeat it).")
async def stickers_create(
    wam: WhatsAppManager,
    out: Output,
    deployment_id: str,
    pack_id: str,
    image_data_id: str,
    emojis: tuple[str, ...],
) -> None:
    """Add a sticker to PACK_ID of DEPLOYMENT_ID; prints its index."""
    ref = await wam.stickers.create(deployment_id, pack_id, image_data_id, emojis)
    out.result_line(ref, f"sticker {ref.index} added to {pack_id}")


@api_command("get", short_help="Show a sticker.")
@click.argument("deployment_id")
@click.argument("pack_id")
@click.argument("index")
@_NAMESPACE
async def stickers_get(
    wam: WhatsAppManager,
    out: Output,
    deployment_id: str,
    pack_id: str,
    index: str,
    namespace: str | None,
) -> None:
    """Show sticker INDEX of PACK_ID of DEPLOYMENT_ID: its media id and emojis."""
    _show_sticker(out, await wam.stickers.get(deployment_id, pack_id, index, namespace=namespace))


@api_command("delete", short_help="Delete a sticker.")
@click.argument("deployment_id")
@click.argument("pack_id")
@click.argument("index")
async def stickers_delete(
    wam: WhatsAppManager, out: Output, deployment_id: str, pack_id: str, index: str
) -> None:
    """Delete sticker INDEX from PACK_ID of DEPLOYMENT_ID (JSON: the deleted sticker, or
    null when the API does not echo it)."""
    deleted = await wam.stickers.delete(deployment_id, pack_id, index)
    out.result_line(deleted, f"sticker {index} deleted from {pack_id}")


for _command in (stickers_list, stickers_create, stickers_get, stickers_delete):
    stickers.add_command(_command)

COMMANDS = (stickerpacks, stickers)
