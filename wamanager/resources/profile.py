"""``/deployments/{id}/profile`` and ``/profile/photo``: the business profile."""

from __future__ import annotations

from ..models import PhotoUpdate, Profile, ProfilePhoto, unstructure
from ..rules import validate
from ._base import Resource, parse, require

_PROFILE = "/deployments/{deployment_id}/profile"
_PHOTO = "/deployments/{deployment_id}/profile/photo"


class Profiles(Resource):
    """The business profile of a READY deployment."""

    __slots__ = ()

    async def get(self, deployment_id: str) -> Profile:
        """The profile. Raises :class:`~wamanager.errors.NotFound`."""
        response = await self._session.request(
            "GET", _PROFILE, path_params={"deployment_id": deployment_id}
        )
        return parse(response, Profile, what="get profile")

    async def update(self, deployment_id: str, profile: Profile) -> Profile:
        """Change the fields of ``profile`` that are not ``None`` (``PATCH``); returns the result.

        Lengths, the ``vertical`` enum and the 1–2 websites are checked before sending
        (:class:`~wamanager.errors.ValidationError`); the API's own rejection is
        :class:`~wamanager.errors.InvalidParameters`. Replay-safe: retried after any
        transient failure, as a GET is.
        """
        validate(require(profile, Profile, "profile"))
        response = await self._session.request(
            "PATCH",
            _PROFILE,
            path_params={"deployment_id": deployment_id},
            json_body=unstructure(profile),
        )
        return parse(response, Profile, what="update profile")

    async def get_photo(self, deployment_id: str) -> ProfilePhoto:
        """Where the current profile photo was pulled from."""
        response = await self._session.request(
            "GET", _PHOTO, path_params={"deployment_id": deployment_id}
        )
        return parse(response, ProfilePhoto, what="get profile photo")

    async def update_photo(self, deployment_id: str, image_url: str) -> ProfilePhoto:
        """Replace the photo with the image at ``image_url`` (.png/.jpg, 192–640 px, ≤ 5 MB).

        The URL's form is checked before sending; the API reports an image it cannot use
        as :class:`~wamanager.errors.Unprocessable`. Replay-safe (a repeat sets the same
        photo again): retried after any transient failure, as a GET is.
        """
        request = PhotoUpdate(image_url=image_url)
        validate(request)
        response = await self._session.request(
            "POST",
            _PHOTO,
            path_params={"deployment_id": deployment_id},
            json_body=unstructure(request),
            replay_safe=True,  # setting the same photo twice leaves the same photo
        )
        return parse(response, ProfilePhoto, what="update profile photo")
