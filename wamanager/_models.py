"""attrs models for every schema of the WhatsApp Provisioning API.

The models are plain attrs classes; wire names, hooks and parsing live in the one converter
(:mod:`wamanager._converter`). Responses are parsed leniently: unknown keys (the API may add
``meta``) are ignored, missing optional fields become ``None``, and an unknown
``current_state.title`` is kept (see :class:`~wamanager.DeploymentState`). Requests are
checked strictly before they are sent, by the rules in :mod:`wamanager._rules` (shared with
the sandbox), whose :func:`~wamanager._rules.validate` raises one
:class:`~wamanager.ValidationError` naming each field and its reason. Constructing a model
never raises for a bad value: the rules do.

Secret fields (``vname_certificate``, ``pin``, the OTP ``code``) are left out of ``repr()``.

Spec schema → model:

==============================  ===============================================
``Deployment`` (request)        :class:`DeploymentRequest`
``DeploymentResponse``          :class:`Deployment` (+ :class:`CurrentState`)
``Resend-OTP``                  :class:`ResendRequest`
``ResendOTPResponse``           :class:`ResendResult`
verify request / 201 body       :class:`VerifyRequest` / :class:`VerifyResult`
``profile``                     :class:`Profile` (``vertical`` values: :class:`Vertical`)
photo request / response        :class:`PhotoUpdate` / :class:`ProfilePhoto`
sticker pack create request     :class:`StickerpackCreate`
``StickerpacksResponse``        :class:`StickerpackList` of :class:`StickerpackRef`
``StickerpackResponse``         :class:`StickerpackDetails` of :class:`Stickerpack`
sticker create request          :class:`StickerCreate`
``StickersResponse``            :class:`StickerList` of :class:`StickerRef`
``StickerIndexsResponse``       :class:`StickerDetails` of :class:`Sticker`
``Error*`` problem details      :class:`ProblemDetails` (+ :class:`InvalidParameter`)
==============================  ===============================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from ._states import DeploymentState

__all__ = [
    "CurrentState",
    "Deployment",
    "DeploymentRequest",
    "InvalidParameter",
    "OTPMethod",
    "PhotoUpdate",
    "ProblemDetails",
    "Profile",
    "ProfilePhoto",
    "ResendRequest",
    "ResendResult",
    "Sticker",
    "StickerCreate",
    "StickerDetails",
    "StickerList",
    "StickerRef",
    "Stickerpack",
    "StickerpackCreate",
    "StickerpackDetails",
    "StickerpackList",
    "StickerpackRef",
    "VerifyRequest",
    "VerifyResult",
    "Vertical",
]


class OTPMethod(str, enum.Enum):
    """How the OTP is delivered."""

    SMS = "sms"
    VOICE = "voice"


class Vertical(str, enum.Enum):
    """The business verticals WhatsApp recognises (the spec's ``profile.vertical`` enum)."""

    AUTOMOTIVE = "Automotive"
    BEAUTY_SPA_AND_SALON = "Beauty, Spa and Salon"
    CLOTHING_AND_APPAREL = "Clothing and Apparel"
    EDUCATION = "Education"
    ENTERTAINMENT = "Entertainment"
    EVENT_PLANNING_AND_SERVICE = "Event Planning and Service"
    FINANCE_AND_BANKING = "Finance and Banking"
    FOOD_AND_GROCERY = "Food and Grocery"
    PUBLIC_SERVICE = "Public Service"
    HOTEL_AND_LODGING = "Hotel and Lodging"
    MEDICAL_AND_HEALTH = "Medical and Health"
    NON_PROFIT = "Non-profit"
    PROFESSIONAL_SERVICES = "Professional Services"
    SHOPPING_AND_RETAIL = "Shopping and Retail"
    TRAVEL_AND_TRANSPORTATION = "Travel and Transportation"
    RESTAURANT = "Restaurant"
    OTHER = "Other"


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    # Lists are accepted and frozen; a lone string would be split into characters. Anything
    # that is not iterable (None, a number) is kept as given, so that the rules name the
    # field instead of this converter raising a TypeError from the constructor.
    if isinstance(values, str):
        return (values,)
    try:
        return tuple(values)
    except TypeError:
        return values  # type: ignore[return-value]


# --- deployments -------------------------------------------------------------------------


@attrs.frozen
class DeploymentRequest:
    """The body of ``POST /deployments``: the number to provision and how to send its OTP.

    ``country_code`` and ``number`` are digits only (``"44"``, ``"7700900000"``).
    ``vname_certificate`` comes from the WhatsApp Business dashboard; ``pin`` is needed only
    when the number already has a two-step-verification PIN. Both are secrets and never
    appear in ``repr()``.
    """

    country_code: str
    number: str
    vname_certificate: str = attrs.field(repr=False)
    waba_id: str
    method: OTPMethod | str = OTPMethod.SMS
    pin: str | None = attrs.field(default=None, repr=False)

    @property
    def msisdn(self) -> str:
        """The full number, country code first (``"447700900000"``)."""
        return f"{self.country_code}{self.number}"


@attrs.frozen
class CurrentState:
    """``current_state`` of a deployment: its title and a human-readable detail."""

    title: DeploymentState
    detail: str | None = None


@attrs.frozen
class Deployment:
    """A deployment as the API reports it (``DeploymentResponse``)."""

    deployment_id: str
    waba_id: str | None = None
    country_code: str | None = None
    number: str | None = None
    api_key: str | None = None
    current_state: CurrentState | None = None

    @property
    def state(self) -> DeploymentState | None:
        """The state title, or ``None`` when the response carried no ``current_state``."""
        return self.current_state.title if self.current_state else None

    @property
    def detail(self) -> str | None:
        """``current_state.detail`` (why an ERROR happened, for example)."""
        return self.current_state.detail if self.current_state else None


# --- OTP -----------------------------------------------------------------------------------


@attrs.frozen
class ResendRequest:
    """The body of ``POST /deployments/{id}/resend-otp``."""

    method: OTPMethod | str = OTPMethod.SMS


@attrs.frozen
class ResendResult:
    """``ResendOTPResponse``: the resend was accepted and a new code is on its way."""

    message: str | None = None
    vname: str | None = None
    method: str | None = None


@attrs.frozen
class VerifyRequest:
    """The body of ``POST /deployments/{id}/verify``. The code never appears in ``repr()``."""

    code: str = attrs.field(repr=False)


@attrs.frozen
class VerifyResult:
    """The verify call's 201 body."""

    deployment_id: str | None = None
    status: str | None = None


# --- profile -------------------------------------------------------------------------------


@attrs.frozen
class Profile:
    """The business profile. Every field is optional; ``None`` means "not set / unchanged".

    On update, only the fields that are not ``None`` are sent (a partial ``PATCH``). The API
    has no way to clear a field (every text field needs at least one character), so ``None``
    never needs to be sent.
    """

    about: str | None = None
    address: str | None = None
    description: str | None = None
    email: str | None = None
    vertical: Vertical | str | None = None
    websites: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_str_tuple)
    )


@attrs.frozen
class PhotoUpdate:
    """The body of ``POST /deployments/{id}/profile/photo``."""

    image_url: str


@attrs.frozen
class ProfilePhoto:
    """Where the profile photo was pulled from."""

    image_url: str | None = None


# --- sticker packs and stickers ------------------------------------------------------------


@attrs.frozen
class StickerpackCreate:
    """The body of ``POST /deployments/{id}/stickerpacks``."""

    publisher: str
    name: str
    ios_app_store_link: str | None = None
    android_app_store_link: str | None = None


@attrs.frozen
class StickerpackRef:
    """A sticker pack's id, as lists and creation return it."""

    id: str


@attrs.frozen
class StickerpackList:
    """``StickerpacksResponse``."""

    stickerpacks: tuple[StickerpackRef, ...] = ()


@attrs.frozen
class Stickerpack:
    """A sticker pack's details."""

    name: str | None = None
    publisher: str | None = None
    android_app_store_link: str | None = None
    ios_app_store_link: str | None = None


@attrs.frozen
class StickerpackDetails:
    """``StickerpackResponse``."""

    stickerpacks: tuple[Stickerpack, ...] = ()


@attrs.frozen
class StickerCreate:
    """The body of ``POST .../stickerpacks/{pack}/stickers``."""

    image_data_id: str
    emojis: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)


@attrs.frozen
class StickerRef:
    """A sticker's index within its pack."""

    index: str


@attrs.frozen
class StickerList:
    """``StickersResponse``."""

    stickers: tuple[StickerRef, ...] = ()


@attrs.frozen
class Sticker:
    """A sticker: its media ids and emojis."""

    id: str | None = None
    image_data_id: str | None = None
    emojis: tuple[str, ...] = ()


@attrs.frozen
class StickerDetails:
    """``StickerIndexsResponse``."""

    stickers: tuple[Sticker, ...] = ()


# --- problem details -----------------------------------------------------------------------


@attrs.frozen
class InvalidParameter:
    """One entry of a problem's ``invalid_parameters``."""

    name: str | None = None
    reason: str | None = None


@attrs.frozen
class ProblemDetails:
    """An error body (every ``Error*`` schema of the spec is this shape)."""

    type: str | None = None
    title: str | None = None
    detail: str | None = None
    instance: str | None = None
    invalid_parameters: tuple[InvalidParameter, ...] = ()
