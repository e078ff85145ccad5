"""``profile get|set`` and ``photo get|set``: the business profile of a READY deployment."""

from __future__ import annotations

import click

from .._client import WhatsAppManager
from .._models import Profile, ProfilePhoto, Vertical
from ._options import api_command
from ._output import Output

__all__ = ["COMMANDS"]


def _show_profile(out: Output, profile: Profile) -> None:
    vertical = profile.vertical
    out.result_record(
        profile,
        [
            ("about", profile.about),
            ("address", profile.address),
            ("description", profile.description),
            ("email", profile.email),
            ("vertical", vertical.value if isinstance(vertical, Vertical) else vertical),
            ("websites", ", ".join(profile.websites) if profile.websites else None),
        ],
    )


def _show_photo(out: Output, photo: ProfilePhoto) -> None:
    out.result_record(photo, [("image url", photo.image_url or "(none)")])


@click.group(short_help="Read or change the business profile.")
def profile() -> None:
    """The business profile of a READY deployment: 'get' or 'set' it."""


@api_command("get", short_help="Show the profile.")
@click.argument("deployment_id")
async def profile_get(wam: WhatsAppManager, out: Output, deployment_id: str) -> None:
    """Show the business profile of DEPLOYMENT_ID."""
    _show_profile(out, await wam.profiles.get(deployment_id))


@api_command("set", short_help="Change fields of the profile.")
@click.argument("deployment_id")
@click.option("--about", help="The 'about' text (1-139 characters).")
@click.option("--address", help="The business address (1-256 characters).")
@click.option("--description", help="What the business does (1-256 characters).")
@click.option("--email", help="The contact email (1-128 characters).")
@click.option(
    "--vertical",
    type=click.Choice([vertical.value for vertical in Vertical], case_sensitive=False),
    help="The business vertical.",
)
@click.option("--website", "websites", multiple=True, help="A website (up to two: repeat it).")
async def profile_set(
    wam: WhatsAppManager,
    out: Output,
    deployment_id: str,
    about: str | None,
    address: str | None,
    description: str | None,
    email: str | None,
    vertical: str | None,
    websites: tuple[str, ...],
) -> None:
    """Change the given fields of the profile of DEPLOYMENT_ID; the others stay as they
    are. Prints the profile as it is afterwards."""
    update = Profile(
        about=about,
        address=address,
        description=description,
        email=email,
        vertical=Vertical(vertical) if vertical else None,
        websites=websites or None,
    )
    if update == Profile():
        raise click.UsageError(
            "nothing to change: give at least one of --about, --address, --description, "
            "--email, --vertical, --website"
        )
    _show_profile(out, await wam.profiles.update(deployment_id, update))


profile.add_command(profile_get)
profile.add_command(profile_set)


@click.group(short_help="Read or change the profile photo.")
def photo() -> None:
    """The profile photo of a READY deployment: 'get' where it came from, or 'set' it."""


@api_command("get", short_help="Show where the photo came from.")
@click.argument("deployment_id")
async def photo_get(wam: WhatsAppManager, out: Output, deployment_id: str) -> None:
    """Show the URL the profile photo of DEPLOYMENT_ID was taken from."""
    _show_photo(out, await wam.profiles.get_photo(deployment_id))


@api_command("set", short_help="Replace the photo.")
@click.argument("deployment_id")
@click.argument("url")
async def photo_set(wam: WhatsAppManager, out: Output, deployment_id: str, url: str) -> None:
    """Replace the profile photo of DEPLOYMENT_ID with the image at URL (a .png or .jpg,
    192-640 px square, at most 5 MB)."""
    _show_photo(out, await wam.profiles.update_photo(deployment_id, url))


photo.add_command(photo_get)
photo.add_command(photo_set)

COMMANDS = (profile, photo)
