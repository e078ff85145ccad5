"""The request rules: one definition of each, used by the client and by the sandbox.

The client checks every request model before it sends it (:func:`validate` raises one
:class:`~wamanager.ValidationError` naming every bad field); the sandbox checks every
request body it receives with the same functions and names the same fields in
``invalid_parameters``. So code that passes the sandbox's checks passes the client's, and the
other way round.

Each ``*_problems`` function takes the request's fields as a mapping (a decoded JSON body, or
a model's fields) and returns every ``(field, reason)`` pair that makes it invalid. A field
missing from the mapping is absent; one that is present must have the right type, so a JSON
``null`` is "not a string", never "not given". List items are named ``websites[0]``.

=====================  ======================================================================
field                  rule
=====================  ======================================================================
``country_code``       1 to 3 digits, no leading ``0`` (an E.164 country code)
``number``             digits only; with the country code, at most 15 digits (E.164)
``pin``                digits only (when given)
``method``             ``sms`` or ``voice``
profile text fields    :data:`PROFILE_LIMITS` characters (the spec's lengths)
``email``              a well-formed address (``name@example.com``)
``vertical``           one of :class:`~wamanager.Vertical`
``websites``           1 to 2 absolute http(s) URLs of at most 256 characters
``image_url``          an absolute http(s) URL to a ``.png``, ``.jpg`` or ``.jpeg``
sticker pack           ``name`` and ``publisher`` 1 to 128 characters; store links http(s)
sticker                ``image_data_id`` 1 to 256 characters; at most 3 ``emojis``
every string           no lone surrogates (they cannot be encoded as UTF-8)
=====================  ======================================================================

Reasons never quote the value of a secret field (``vname_certificate``, ``pin``, ``code``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._checks import find_lone_surrogate
from ._errors import FieldProblem, ValidationError
from ._models import (
    DeploymentRequest,
    OTPMethod,
    PhotoUpdate,
    Profile,
    ResendRequest,
    StickerCreate,
    StickerpackCreate,
    VerifyRequest,
    Vertical,
)

__all__ = [
    "E164_MAX_DIGITS",
    "EMOJIS_MAX",
    "LONE_SURROGATE_REASON",
    "PROFILE_FIELDS",
    "PROFILE_LIMITS",
    "STICKERPACK_TEXT_MAX",
    "URL_MAX",
    "WEBSITES_MAX",
    "WEBSITE_LENGTH_MAX",
    "deployment_problems",
    "fields_of",
    "find_lone_surrogate",
    "photo_problems",
    "problems",
    "profile_problems",
    "resend_problems",
    "sticker_problems",
    "stickerpack_problems",
    "validate",
    "verify_problems",
]

Fields = Mapping[str, Any]

#: (min, max) lengths of the profile's text fields, from the spec.
PROFILE_LIMITS: Mapping[str, tuple[int, int]] = {
    "about": (1, 139),
    "address": (1, 256),
    "description": (1, 256),
    "email": (1, 128),
}
#: The fields a profile update may set (it must set at least one).
PROFILE_FIELDS = (*PROFILE_LIMITS, "vertical", "websites")
#: A profile holds 1 to this many websites (the spec's ``maxItems``).
WEBSITES_MAX = 2
#: The longest website the spec allows.
WEBSITE_LENGTH_MAX = 256
#: The longest photo or store URL accepted (keeps stored state bounded).
URL_MAX = 2048
#: E.164: a full number, country code included, has at most this many digits.
E164_MAX_DIGITS = 15
#: WhatsApp's limit on a sticker pack's ``name`` and ``publisher``.
STICKERPACK_TEXT_MAX = 128
#: WhatsApp's limit on the emojis of one sticker.
EMOJIS_MAX = 3
_IMAGE_DATA_ID_MAX = 256
_EMOJI_LENGTH_MAX = 32
_PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")

#: The reason given for text holding a lone surrogate (by the client and the sandbox alike).
LONE_SURROGATE_REASON = "must not contain lone surrogates (text must be valid Unicode)"

_DIGITS = re.compile(r"[0-9]+")
_COUNTRY_CODE = re.compile(r"[1-9][0-9]{0,2}")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
# A pragmatic address check: dot-separated atoms, "@", dot-separated labels and a
# top-level domain of letters. Unicode letters are allowed (internationalised addresses).
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[^\W\d_]{{2,}}")


# --- value rules ---------------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _text(
    fields: Fields, field: str, *, required: bool = True, length: tuple[int, int] | None = None
) -> Iterator[FieldProblem]:
    """A string: present when ``required``, non-blank, within ``length``, no lone surrogate."""
    if field not in fields:
        if required:
            yield field, "is required"
        return
    yield from _string(fields[field], field, length=length)


def _string(
    value: object, name: str, *, length: tuple[int, int] | None = None
) -> Iterator[FieldProblem]:
    if not isinstance(value, str):
        yield name, f"must be a string, not {_kind(value)}"
    elif find_lone_surrogate(value):
        yield name, LONE_SURROGATE_REASON
    elif length is not None and not length[0] <= len(value) <= length[1]:
        low, high = length
        yield name, f"must be {low} to {high} characters long, not {len(value)}"
    elif not value.strip():
        yield name, "must not be empty"


def _choice(
    fields: Fields, field: str, choices: type[enum.Enum], *, required: bool
) -> Iterator[FieldProblem]:
    if field not in fields:
        if required:
            yield field, "is required"
        return
    allowed = [member.value for member in choices]
    value = fields[field]
    if value not in allowed:
        shown = (
            repr(value)
            if isinstance(value, str) and not find_lone_surrogate(value)
            else _kind(value)
        )
        yield field, f"must be one of {', '.join(map(repr, allowed))}, not {shown}"


def _http_url(value: str, name: str, *, max_length: int = URL_MAX) -> Iterator[FieldProblem]:
    """An absolute http(s) URL with a host, no spaces, at most ``max_length`` characters."""
    if len(value) > max_length:
        yield name, f"must be at most {max_length} characters, not {len(value)}"
        return
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        yield name, "is not a valid URL"
        return
    if parts.scheme not in ("http", "https") or not host or _SPACE_OR_CONTROL.search(value):
        yield name, "must be an absolute http(s) URL"


def _url_field(fields: Fields, field: str, *, required: bool) -> Iterator[FieldProblem]:
    found = list(_text(fields, field, required=required))
    yield from found
    if not found and field in fields:
        yield from _http_url(fields[field], field)


# --- request rules -------------------------------------------------------------------------


def deployment_problems(fields: Fields) -> list[FieldProblem]:
    """Problems of a ``POST /deployments`` body (or :class:`DeploymentRequest`)."""
    found = list(_text(fields, "country_code"))
    country_code: Any = fields.get("country_code")  # a non-empty str when found is empty
    if not found and not _COUNTRY_CODE.fullmatch(country_code):
        found.append(("country_code", "must be 1 to 3 digits with no leading 0 (E.164)"))
    number = list(_text(fields, "number"))
    if not number:
        digits = fields["number"]
        if not _DIGITS.fullmatch(digits):
            number.append(("number", "must contain digits only (no '+', spaces or dashes)"))
        else:
            code = country_code if isinstance(country_code, str) else ""
            total = len(code) + len(digits)
            if total > E164_MAX_DIGITS:
                number.append(
                    (
                        "number",
                        f"must have at most {E164_MAX_DIGITS} digits with the country code "
                        f"(E.164), not {total}",
                    )
                )
    found += number
    # The certificate is a secret: its problems never quote it.
    found += _text(fields, "vname_certificate")
    found += _text(fields, "waba_id")
    found += _choice(fields, "method", OTPMethod, required=True)
    pin = list(_text(fields, "pin", required=False))
    if not pin and "pin" in fields and not _DIGITS.fullmatch(fields["pin"]):
        pin.append(("pin", "must contain digits only"))
    return found + pin


def resend_problems(fields: Fields) -> list[FieldProblem]:
    """Problems of a resend-otp body (or :class:`ResendRequest`); ``method`` is optional."""
    return list(_choice(fields, "method", OTPMethod, required=False))


def verify_problems(fields: Fields) -> list[FieldProblem]:
    """Problems of a verify body (or :class:`VerifyRequest`)."""
    return list(_text(fields, "code"))


def _email(value: str) -> Iterator[FieldProblem]:
    local = value.rpartition("@")[0]
    if not _EMAIL.fullmatch(value) or len(local) > 64:
        # The spec's own example reason for a bad profile update.
        yield "email", "Email format invalid"


def profile_problems(fields: Fields) -> list[FieldProblem]:
    """Problems of a profile update (or :class:`Profile`): lengths, email, vertical, websites."""
    found: list[FieldProblem] = []
    for field, length in PROFILE_LIMITS.items():
        problems_of_field = list(_text(fields, field, required=False, length=length))
        found += problems_of_field
        if field == "email" and not problems_of_field and field in fields:
            found += _email(fields[field])
    found += _choice(fields, "vertical", Vertical, required=False)
    if "websites" in fields:
        sites = fields["websites"]
        if not isinstance(sites, (list, tuple)):
            found.append(("websites", f"must be an array of strings, not {_kind(sites)}"))
        elif not 1 <= len(sites) <= WEBSITES_MAX:
            found.append(("websites", f"must hold 1 to {WEBSITES_MAX} items, not {len(sites)}"))
        else:
            for i, site in enumerate(sites):
                name = f"websites[{i}]"
                site_problems = list(_string(site, name, length=(1, WEBSITE_LENGTH_MAX)))
                found += site_problems or _http_url(site, name, max_length=WEBSITE_LENGTH_MAX)
    if not any(field in fields for field in PROFILE_FIELDS):
        found.append(("profile", "must set at least one field"))
    return found


def photo_problems(fields: Fields) -> list[FieldProblem]:
    """Problems of a profile photo update (or :class:`PhotoUpdate`)."""
    found = list(_url_field(fields, "image_url", required=True))
    if not found:
        path = urlsplit(fields["image_url"]).path.lower()
        if not path.endswith(_PHOTO_SUFFIXES):
            found.append(("image_url", "must point to a .png, .jpg or .jpeg file"))
    return found


def stickerpack_problems(fields: Fields) -> list[FieldProblem]:
    """Problems of a sticker pack (or :class:`StickerpackCreate`)."""
    found = list(_text(fields, "publisher", length=(1, STICKERPACK_TEXT_MAX)))
    found += _text(fields, "name", length=(1, STICKERPACK_TEXT_MAX))
    for field in ("ios_app_store_link", "android_app_store_link"):
        found += _url_field(fields, field, required=False)
    return found


def sticker_problems(fields: Fields) -> list[FieldProblem]:
    """Problems of a sticker (or :class:`StickerCreate`): its media id and up to 3 emojis."""
    found = list(_text(fields, "image_data_id", length=(1, _IMAGE_DATA_ID_MAX)))
    if "emojis" in fields:
        emojis = fields["emojis"]
        if not isinstance(emojis, (list, tuple)):
            found.append(("emojis", f"must be an array of strings, not {_kind(emojis)}"))
        elif len(emojis) > EMOJIS_MAX:
            found.append(("emojis", f"must hold at most {EMOJIS_MAX} items, not {len(emojis)}"))
        else:
            for i, emoji in enumerate(emojis):
                found += _string(emoji, f"emojis[{i}]", length=(1, _EMOJI_LENGTH_MAX))
    return found


# --- models --------------------------------------------------------------------------------

_RULES: Mapping[type[Any], Callable[[Fields], list[FieldProblem]]] = {
    DeploymentRequest: deployment_problems,
    ResendRequest: resend_problems,
    VerifyRequest: verify_problems,
    Profile: profile_problems,
    PhotoUpdate: photo_problems,
    StickerpackCreate: stickerpack_problems,
    StickerCreate: sticker_problems,
}


def fields_of(obj: Any) -> dict[str, Any]:
    """A request model's fields as the wire carries them (the mapping the rules check).

    Enums become their values and unset optional fields are absent, so the mapping matches
    the decoded JSON body the sandbox checks with the same rules.

    ``None`` is "not given" only for fields whose default is ``None``; anywhere else (a
    required field, ``emojis``) it is a value, and the rules say what is wrong with it.
    """
    fields: dict[str, Any] = {}
    for attribute in attrs.fields(type(obj)):
        value = getattr(obj, attribute.name)
        if value is None and attribute.default in (None, attrs.NOTHING):
            continue
        fields[attribute.name] = value.value if isinstance(value, enum.Enum) else value
    return fields


def problems(obj: Any) -> list[FieldProblem]:
    """Every ``(field, reason)`` that makes the request model ``obj`` invalid; empty if valid.

    Raises :class:`TypeError` for an object that is not a request model.
    """
    rule = _RULES.get(type(obj))
    if rule is None:
        raise TypeError(f"{type(obj).__name__} is not a request model")
    return rule(fields_of(obj))


def validate(obj: Any) -> None:
    """Raise :class:`~wamanager.ValidationError` listing every problem of ``obj``.

    Called by every resource method before its request is sent.
    """
    found = problems(obj)
    if found:
        raise ValidationError(found, model=type(obj).__name__)
