"""``/deployments/{id}/profile`` and ``/profile/photo``: the business profile."""

from __future__ import annotations

from .._models import PhotoUpdate, Profile, ProfilePhoto
from ._base import Resource, require

_PROFILE = "/deployments/{deployment_id}/profile"
_PHOTO = "/deployments/{deployment_id}/profile/photo"


class Profiles(Resource):
    """The business profile of a READY deployment."""

    __slots__ = ()

    async def get(self, deployment_id: str) -> Profile:
        """The profile. Raises :class:`~wamanager.NotFound`."""
        return await self._call(
            "GET", _PROFILE, Profile, "get profile", ids={"deployment_id": deployment_id}
        )

    async def update(self, deployment_id: str, profile: Profile) -> Profile:
        """Change the fields of ``profile`` that are not ``None`` (``PATCH``); returns the result.

        Lengths, the ``vertical`` enum and the 1–2 websites are checked before sending
        (:class:`~wamanager.ValidationError`); the API's own rejection is
        :class:`~wamanager.InvalidParameters`. Replay-safe: retried after any
        transient failure, as a GET is.
        """
        body = require(profile, Profile, "profile")
        return await self._call(
            "PATCH",
            _PROFILE,
            Profile,
            "update profile",
            ids={"deployment_id": deployment_id},
            body=body,
        )

    async def get_photo(self, deployment_id: str) -> ProfilePhoto:
        """Where the current profile photo was pulled from."""
        ids = {"deployment_id": deployment_id}
        return await self._call("GET", _PHOTO, ProfilePhoto, "get profile photo", ids=ids)

    async def update_photo(self, deployment_id: str, image_url: str) -> ProfilePhoto:
        """Replace the photo with the image at ``image_url`` (.png/.jpg, 192–640 px, ≤ 5 MB).

        The URL's form is checked before sending; the API reports an image it cannot use
        as :class:`~wamanager.Unprocessable`. Replay-safe (a repeat sets the same
        photo again): retried after any transient failure, as a GET is.
        """
        return await self._call(
            "POST",
            _PHOTO,
            ProfilePhoto,
            "update profile photo",
            ids={"deployment_id": deployment_id},
            body=PhotoUpdate(image_url=image_url),
            replay_safe=True,  # setting the same photo twice leaves the same photo
        )
