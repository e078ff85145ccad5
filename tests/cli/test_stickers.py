"""`stickerpacks` and `stickers`: create, list, get and delete against a sandbox."""

from __future__ import annotations

from .conftest import CLI, ThreadedSandbox, ready


def test_stickerpacks_create_list_get(run: CLI, served: ThreadedSandbox) -> None:
    """Sticker packs: create prints the id; list and get read it back, as JSON and text."""
    deployment_id = ready(run, served)
    created = run(
        "stickerpacks",
        "create",
        deployment_id,
        "--publisher",
        "Demo Bakery",
        "--name",
        "Loaves",
        "--json",
    )
    assert created.code == 0, created.err
    pack_id = created.json()["id"]
    assert run("stickerpacks", "list", deployment_id, "--json").json() == [{"id": pack_id}]
    assert run("stickerpacks", "list", deployment_id).out.split() == ["STICKERPACK", pack_id]
    details = run("stickerpacks", "get", deployment_id, pack_id, "--json").json()
    assert (details["name"], details["publisher"]) == ("Loaves", "Demo Bakery")
    human = run("stickerpacks", "get", deployment_id, pack_id).out
    assert "publisher:" in human
    assert "Demo Bakery" in human
    first_party = run("stickerpacks", "list", deployment_id, "--namespace", "whatsapp", "--json")
    assert first_party.code == 0, first_party.err
    assert isinstance(first_party.json(), list)
    text = run("stickerpacks", "create", deployment_id, "--publisher", "P", "--name", "N").out
    assert text.startswith("sticker pack ")


def test_stickers_create_list_get_delete(run: CLI, served: ThreadedSandbox) -> None:
    """Stickers: add one with two emojis, list and show it, then delete it."""
    deployment_id = ready(run, served)
    pack = run(
        "stickerpacks", "create", deployment_id, "--publisher", "P", "--name", "N", "--json"
    ).json()["id"]
    created = run(
        "stickers",
        "create",
        deployment_id,
        pack,
        "--image-data-id",
        "media-1",
        "--emoji",
        "🍞",
        "--emoji",
        "👍🏽",
        "--json",
    )
    assert created.code == 0, created.err
    index = created.json()["index"]
    assert run("stickers", "list", deployment_id, pack, "--json").json() == [{"index": index}]
    assert run("stickers", "list", deployment_id, pack).out.split() == ["INDEX", index]
    sticker = run("stickers", "get", deployment_id, pack, index, "--json").json()
    assert sticker["image_data_id"] == "media-1"
    assert sticker["emojis"] == ["🍞", "👍🏽"]
    assert "🍞 👍🏽" in run("stickers", "get", deployment_id, pack, index).out
    deleted = run("stickers", "delete", deployment_id, pack, index, "--json")
    assert deleted.code == 0, deleted.err
    assert deleted.json()["image_data_id"] == "media-1"  # the sandbox echoes it
    assert run("stickers", "list", deployment_id, pack, "--json").json() == []
    assert run("stickers", "get", deployment_id, pack, index).code == 3
    added = run("stickers", "create", deployment_id, pack, "--image-data-id", "m2").out
    assert added.startswith("sticker ")
    second = added.split()[1]
    assert run("stickers", "delete", deployment_id, pack, second).out.startswith(
        f"sticker {second} deleted from {pack}"
    )
