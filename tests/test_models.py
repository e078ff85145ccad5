"""Models: client-side validation, what requests look like on the wire, lenient parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from wamanager import (
    Deployment,
    DeploymentState,
    OTPMethod,
    Profile,
    ValidationError,
    Vertical,
    WhatsAppManager,
)
from wamanager._converter import structure, unstructure
from wamanager._models import (
    DeploymentRequest,
    PhotoUpdate,
    ProblemDetails,
    ResendRequest,
    StickerCreate,
    StickerDetails,
    StickerpackCreate,
    StickerpackList,
    VerifyRequest,
)
from wamanager._rules import PROFILE_LIMITS, problems, validate
from wamanager.testing import FakeAPI

from ._support import DEP, deployment_request, load_spec


def _fields(obj: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate(obj)
    assert caught.value.model == type(obj).__name__
    for field, reason in caught.value.errors:
        assert f"{field}: {reason}" in str(caught.value)
    return list(caught.value.fields)


# --- deployment request ------------------------------------------------------------------


def test_valid_deployment_request_has_no_problems() -> None:
    """A complete request with digits, a known method and a pin validates."""
    assert problems(deployment_request(pin="123456", method=OTPMethod.VOICE)) == []


def test_every_bad_deployment_field_is_listed_at_once() -> None:
    """All bad fields of a create request are reported together, each with its reason."""
    request = deployment_request(
        country_code="+44",
        number="",
        vname_certificate=None,
        waba_id=12,
        method="fax",
        pin="12-34",
    )
    with pytest.raises(ValidationError) as caught:
        validate(request)
    reasons = dict(caught.value.errors)
    assert list(reasons) == [
        "country_code",
        "number",
        "vname_certificate",
        "waba_id",
        "method",
        "pin",
    ]
    assert "1 to 3 digits" in reasons["country_code"]
    assert reasons["number"] == "must not be empty"
    assert reasons["vname_certificate"] == "is required"
    assert reasons["waba_id"] == "must be a string, not int"
    assert reasons["method"] == "must be one of 'sms', 'voice', not 'fax'"
    assert "digits only" in reasons["pin"]


@pytest.mark.parametrize("method", ["sms", "voice", OTPMethod.SMS, OTPMethod.VOICE])
def test_method_accepts_sms_and_voice(method: Any) -> None:
    """The OTP method may be "sms" or "voice", as a string or an OTPMethod."""
    assert problems(deployment_request(method=method)) == []
    assert problems(ResendRequest(method=method)) == []


@pytest.mark.parametrize("method", ["SMS", "whatsapp", "", None])
def test_method_rejects_anything_else(method: Any) -> None:
    """Any other method is rejected, for create and for resend."""
    assert _fields(deployment_request(method=method)) == ["method"]
    assert _fields(ResendRequest(method=method)) == ["method"]


def test_deployment_request_wire_shape() -> None:
    """The create body holds the spec's fields, method as a string, no pin when unset."""
    assert unstructure(deployment_request(method=OTPMethod.VOICE)) == {
        "country_code": "44",
        "number": "7700900000",
        "vname_certificate": "VNAME-CERT-Xy7Q",
        "waba_id": "123456789123",
        "method": "voice",
    }
    assert unstructure(deployment_request(pin="1234"))["pin"] == "1234"
    assert unstructure(deployment_request(method=OTPMethod.SMS))["method"] == "sms"


def test_msisdn_joins_country_code_and_number() -> None:
    """msisdn is the country code followed by the number."""
    assert deployment_request().msisdn == "447700900000"


# --- OTP -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["", "   ", None, 123456])
def test_verify_code_must_be_a_non_empty_string(code: Any) -> None:
    """The OTP code is required and must be a string."""
    assert _fields(VerifyRequest(code=code)) == ["code"]


def test_otp_bodies() -> None:
    """verify sends {"code"}, resend sends {"method"}."""
    assert unstructure(VerifyRequest("674639")) == {"code": "674639"}
    assert unstructure(ResendRequest(OTPMethod.VOICE)) == {"method": "voice"}


# --- profile -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("about", 1, 139), ("address", 1, 256), ("description", 1, 256), ("email", 1, 128)],
)
def test_profile_text_lengths(field: str, low: int, high: int) -> None:
    """Each text field accepts low..high characters and rejects one fewer or one more."""
    assert PROFILE_LIMITS[field] == (low, high)

    def text(length: int) -> str:  # a well-formed address when the field is the email
        domain = f"{'d' * 60}.{'e' * 60}.io"
        return "x" * (length - 1 - len(domain)) + "@" + domain if field == "email" else "x" * length

    if field != "email":  # no address is shorter than a@b.io
        assert problems(Profile(**{field: text(low)})) == []
    assert problems(Profile(**{field: text(high)})) == []
    too_long = problems(Profile(**{field: text(high + 1)}))
    assert too_long == [(field, f"must be {low} to {high} characters long, not {high + 1}")]
    assert [f for f, _ in problems(Profile(**{field: ""}))] == [field]


def test_profile_limits_match_the_spec() -> None:
    """The length limits and vertical enum are the spec's own."""
    schema = load_spec()["components"]["schemas"]["profile"]["properties"]
    for field, (low, high) in PROFILE_LIMITS.items():
        assert (schema[field]["minLength"], schema[field]["maxLength"]) == (low, high)
    assert [v.value for v in Vertical] == schema["vertical"]["enum"]
    assert (schema["websites"]["minItems"], schema["websites"]["maxItems"]) == (1, 2)


@pytest.mark.parametrize("vertical", [*Vertical, "Restaurant", "Beauty, Spa and Salon"])
def test_vertical_accepts_the_enum(vertical: Any) -> None:
    """Every spec vertical is accepted, as a member or its string."""
    assert problems(Profile(vertical=vertical)) == []


@pytest.mark.parametrize("vertical", ["restaurant", "Bakery", ""])
def test_vertical_rejects_other_values(vertical: str) -> None:
    """A vertical outside the enum (case matters) is rejected."""
    assert _fields(Profile(vertical=vertical)) == ["vertical"]


@pytest.mark.parametrize(
    ("websites", "fields"),
    [
        (["https://a.example"], []),
        (["https://a.example", "http://b.example/path?q=1"], []),
        (["https://x.io/" + "x" * 243], []),
        ([], ["websites"]),
        (["a", "b", "c"], ["websites"]),
        (["https://x.io/" + "x" * 244], ["websites[0]"]),
        (["https://ok.example", ""], ["websites[1]"]),
        (["example.com"], ["websites[0]"]),
        (["ftp://example.com"], ["websites[0]"]),
        (["https://"], ["websites[0]"]),
        (["https://exa mple.com"], ["websites[0]"]),
        (["https://[::1/a"], ["websites[0]"]),
        ("https://one.example", []),  # a lone string is one website, not its characters
    ],
)
def test_websites_rules(websites: Any, fields: list[str]) -> None:
    """websites holds 1 to 2 absolute http(s) URLs of at most 256 characters."""
    assert [f for f, _ in problems(Profile(websites=websites))] == fields


def test_empty_profile_update_is_rejected() -> None:
    """A profile update that sets nothing is rejected."""
    assert _fields(Profile()) == ["profile"]


def test_every_bad_profile_field_is_listed() -> None:
    """All bad profile fields are reported together."""
    profile = Profile(
        about="a" * 140,
        address="",
        description="d" * 257,
        email="not-an-email",
        vertical="Nope",
        websites=["w"] * 3,
    )
    assert _fields(profile) == ["about", "address", "description", "email", "vertical", "websites"]


def test_profile_update_is_partial() -> None:
    """Only the fields that are set are sent; enums go out as their values, lists as lists."""
    body = unstructure(Profile(about="Hi", vertical=Vertical.RESTAURANT, websites=["https://a"]))
    assert json.loads(json.dumps(body)) == {
        "about": "Hi",
        "vertical": "Restaurant",
        "websites": ["https://a"],
    }
    assert unstructure(Profile(email="a@b.c")) == {"email": "a@b.c"}


# --- photo, sticker packs, stickers ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://www.example.com/img.png",
        "https://cdn.example/a/b.JPG",
        "http://x.example/photo.jpeg?size=640",
    ],
)
def test_photo_url_accepts_png_and_jpeg(url: str) -> None:
    """An absolute http(s) URL to a .png, .jpg or .jpeg is accepted (query allowed)."""
    assert problems(PhotoUpdate(url)) == []


@pytest.mark.parametrize(
    ("url", "count"),
    [
        ("https://www.example.com/img.gif", 1),
        ("https://www.example.com/img.png.exe", 1),
        ("ftp://www.example.com/img.png", 1),
        ("/img.png", 1),
        ("not a url", 1),
        ("", 1),
    ],
)
def test_photo_url_rejects_other_urls(url: str, count: int) -> None:
    """Other extensions, schemes, relative or empty URLs are rejected on image_url."""
    assert _fields(PhotoUpdate(url)) == ["image_url"] * count


def test_stickerpack_requires_publisher_and_name() -> None:
    """publisher and name are required; store links must be http(s) URLs."""
    bad = StickerpackCreate(publisher="", name=None, ios_app_store_link="itunes")  # type: ignore[arg-type]
    assert _fields(bad) == ["publisher", "name", "ios_app_store_link"]
    assert problems(StickerpackCreate("p", "n")) == []


def test_stickerpack_body_omits_unset_links() -> None:
    """The pack body leaves out store links that are not given."""
    assert unstructure(StickerpackCreate("p", "n")) == {"publisher": "p", "name": "n"}
    assert unstructure(StickerpackCreate("p", "n", android_app_store_link="https://x")) == {
        "publisher": "p",
        "name": "n",
        "android_app_store_link": "https://x",
    }


def test_sticker_requires_image_data_id() -> None:
    """image_data_id is required; each emoji must be a non-empty string."""
    assert _fields(StickerCreate(image_data_id="", emojis=["🐥", ""])) == [
        "image_data_id",
        "emojis[1]",
    ]
    assert _fields(StickerCreate(image_data_id=None)) == ["image_data_id"]  # type: ignore[arg-type]


def test_sticker_body() -> None:
    """The sticker body sends emojis as a list only when there are some."""
    assert unstructure(StickerCreate("m")) == {"image_data_id": "m"}
    assert list(unstructure(StickerCreate("m", ["🐥", "😃"]))["emojis"]) == ["🐥", "😃"]


# --- bad input at the model layer ----------------------------------------------------------

LONE = "\ud800"
SECRET = "S3CRET-VALUE"

BAD_MODELS = [
    pytest.param(lambda: deployment_request(number="77009" + LONE), "number", id="surrogate"),
    pytest.param(lambda: deployment_request(waba_id=LONE), "waba_id", id="surrogate-id"),
    pytest.param(lambda: Profile(about="caf" + LONE), "about", id="surrogate-profile"),
    pytest.param(lambda: Profile(websites=["https://x.io/" + LONE]), "websites[0]", id="site"),
    pytest.param(lambda: PhotoUpdate("https://[::1/a.png"), "image_url", id="bad-ipv6-url"),
    pytest.param(lambda: StickerCreate("m", emojis=None), "emojis", id="emojis-none"),  # type: ignore[arg-type]
    pytest.param(lambda: StickerCreate("m", emojis=5), "emojis", id="emojis-int"),  # type: ignore[arg-type]
    pytest.param(lambda: Profile(websites=5), "websites", id="websites-int"),  # type: ignore[arg-type]
    pytest.param(lambda: Profile(email=b"a@b.io"), "email", id="bytes"),  # type: ignore[arg-type]
    pytest.param(lambda: Profile(vertical=3), "vertical", id="vertical-int"),  # type: ignore[arg-type]
    pytest.param(lambda: StickerpackCreate(publisher=["p"], name="n"), "publisher", id="list"),  # type: ignore[arg-type]
    pytest.param(lambda: StickerCreate("m", emojis=["🐥", 7]), "emojis[1]", id="emoji-int"),  # type: ignore[list-item]
    pytest.param(lambda: ResendRequest(method=LONE), "method", id="surrogate-method"),
    pytest.param(lambda: deployment_request(country_code=44), "country_code", id="int-cc"),
]


@pytest.mark.parametrize(("build", "field"), BAD_MODELS)
def test_bad_values_become_a_validation_error_naming_the_field(
    build: Callable[[], Any], field: str
) -> None:
    """Surrogates, broken URLs, None or numbers where text or arrays belong: ValidationError."""
    model = build()  # constructing never raises: converters keep what they cannot convert
    with pytest.raises(ValidationError) as caught:
        validate(model)
    assert field in caught.value.fields
    str(caught.value).encode("utf-8")  # the message itself is always printable


@pytest.mark.parametrize(
    "model",
    [
        DeploymentRequest("44", "7700900000", SECRET + LONE, "1"),
        DeploymentRequest("44", "7700900000", "cert", "1", pin=SECRET + LONE),
        DeploymentRequest("44", "7700900000", "cert", "1", pin=SECRET),
        VerifyRequest(SECRET + LONE),
    ],
    ids=["vname-certificate", "pin-surrogate", "pin-letters", "code"],
)
def test_secret_values_are_never_quoted(model: Any) -> None:
    """Problems of vname_certificate, pin and code never quote the value, in message or args."""
    with pytest.raises(ValidationError) as caught:
        validate(model)
    shown = repr(caught.value) + str(caught.value) + repr(caught.value.args)
    assert SECRET not in shown
    assert "S3CRET" not in repr(caught.value.errors)


@pytest.mark.parametrize(
    ("country_code", "number", "fields"),
    [
        ("1", "2025550123", []),
        ("44", "7700900000", []),
        ("998", "901234567", []),
        ("44", "7" * 13, []),  # 15 digits in all
        ("44", "7" * 14, ["number"]),  # 16
        ("1234", "5", ["country_code"]),
        ("0", "5", ["country_code"]),
        ("044", "7700900000", ["country_code"]),
        ("", "7700900000", ["country_code"]),
        ("+44", "7700900000", ["country_code"]),
        ("4a", "7700900000", ["country_code"]),
        ("44", "abc", ["number"]),
        ("44", "7700 900000", ["number"]),
        ("44", "+447700900000", ["number"]),
        ("٤٤", "7700900000", ["country_code"]),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_numbers_follow_e164(country_code: str, number: str, fields: list[str]) -> None:
    """country_code is 1 to 3 ASCII digits (no leading 0); the whole number at most 15 digits."""
    found = problems(deployment_request(country_code=country_code, number=number))
    assert [f for f, _ in found] == fields


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("you@example.com", True),
        ("first.last+tag@sub.example.co.uk", True),
        ("josé@exemplo.com.br", True),
        ("not-an-email", False),
        ("a@b", False),
        ("a@@b.io", False),
        ("a b@c.io", False),
        (".a@b.io", False),
        ("a..b@c.io", False),
        ("a@-b.io", False),
        ("a@b.i", False),
        ("@b.io", False),
        ("x" * 65 + "@b.io", False),  # the local part has 64 characters at most
    ],
)
def test_profile_email_must_be_well_formed(email: str, valid: bool) -> None:
    """A profile email is name@domain.tld; anything else is 'Email format invalid'."""
    expected = [] if valid else [("email", "Email format invalid")]
    assert problems(Profile(email=email)) == expected


def test_sticker_pack_and_sticker_limits() -> None:
    """Pack name/publisher 1–128 characters; a sticker has at most 3 emojis of ≤ 32 characters."""
    assert problems(StickerpackCreate("p" * 128, "n" * 128)) == []
    assert [f for f, _ in problems(StickerpackCreate("p" * 129, "n" * 129))] == [
        "publisher",
        "name",
    ]
    assert problems(StickerCreate("m", ["🐥", "😃", "👍🏽"])) == []
    assert [f for f, _ in problems(StickerCreate("m", ["🐥"] * 4))] == ["emojis"]
    assert [f for f, _ in problems(StickerCreate("m", ["x" * 33]))] == ["emojis[0]"]
    assert [f for f, _ in problems(StickerCreate("m" * 257))] == ["image_data_id"]


def test_problems_refuses_what_is_not_a_request_model() -> None:
    """problems() of a response model is a TypeError (a programming error, not bad input)."""
    with pytest.raises(TypeError):
        problems(Deployment(deployment_id=DEP))


# --- nothing is sent when validation fails ------------------------------------------------

INVALID_CALLS = [
    pytest.param(lambda c: c.deployments.create(deployment_request(number="")), id="create"),
    pytest.param(lambda c: c.otp.verify(DEP, ""), id="verify"),
    pytest.param(lambda c: c.otp.resend(DEP, "fax"), id="resend"),
    pytest.param(lambda c: c.profiles.update(DEP, Profile(about="x" * 140)), id="profile"),
    pytest.param(lambda c: c.profiles.update_photo(DEP, "https://x/img.gif"), id="photo"),
    pytest.param(lambda c: c.stickerpacks.create(DEP, "", "name"), id="stickerpack"),
    pytest.param(lambda c: c.stickers.create(DEP, "pack", ""), id="sticker"),
]


@pytest.mark.parametrize("call", INVALID_CALLS)
async def test_nothing_is_sent_when_validation_fails(
    call: Callable[[WhatsAppManager], Any], api: FakeAPI, client: WhatsAppManager
) -> None:
    """Each write operation validates first: ValidationError, and no request at all."""
    with pytest.raises(ValidationError):
        await call(client)
    assert api.requests == []


# --- secrets stay out of repr --------------------------------------------------------------


def test_reprs_hide_secret_fields() -> None:
    """vname_certificate, pin and the OTP code never appear in repr()."""
    request = deployment_request(vname_certificate="CERT-SECRET-1", pin="987654")
    assert "CERT-SECRET-1" not in repr(request)
    assert "987654" not in repr(request)
    assert "7700900000" in repr(request)
    assert "246810" not in repr(VerifyRequest("246810"))


# --- parsing -------------------------------------------------------------------------------


def test_parsing_ignores_unknown_keys() -> None:
    """Unknown keys (meta, new fields) anywhere in a body are ignored."""
    deployment = structure(
        {
            "deployment_id": DEP,
            "current_state": {"title": "READY", "detail": "ok", "since": "now"},
            "meta": {"page": 1},
            "new_field": [1, 2],
        },
        Deployment,
    )
    assert deployment.state is DeploymentState.READY
    assert deployment.detail == "ok"


def test_parsing_keeps_unknown_states() -> None:
    """An unknown state title is kept as an unknown DeploymentState."""
    deployment = structure({"deployment_id": DEP, "current_state": {"title": "PAUSED"}}, Deployment)
    assert deployment.state == "PAUSED"
    assert deployment.state is not None
    assert deployment.state.is_known is False


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        ({"stickers": "x"}, StickerDetails),
        ({"stickers": [{"emojis": "🐥😃"}]}, StickerDetails),
        ({"stickers": [{"emojis": [["🐥", "😃"]]}]}, StickerDetails),  # the original spec example
        ({"stickerpacks": [5]}, StickerpackList),
        ({"stickerpacks": {"id": "x"}}, StickerpackList),
        ({"websites": "https://a.example"}, Profile),
        ({"about": ["x"]}, Profile),
        ({"deployment_id": {"id": "x"}}, Deployment),
        ({"deployment_id": DEP, "current_state": "READY"}, Deployment),
        ({"deployment_id": DEP, "current_state": {"title": 5.5}}, Deployment),
        ([], Deployment),
    ],
)
def test_wrong_shapes_are_rejected_not_coerced(data: Any, cls: type) -> None:
    """A string where an array belongs, an array where an object belongs, etc. raise."""
    with pytest.raises(Exception):  # noqa: B017, PT011 - cattrs' error types vary by shape
        structure(data, cls)


def test_numeric_ids_are_read_as_strings() -> None:
    """An id sent as a JSON number is read as its string."""
    assert structure({"deployment_id": 123}, Deployment).deployment_id == "123"


def test_sticker_emojis_parse_as_a_flat_list() -> None:
    """A sticker's emojis parse as the flat list of strings the API sends."""
    details = structure({"stickers": [{"id": "1", "emojis": ["🐥", "😃"]}]}, StickerDetails)
    assert details.stickers[0].emojis == ("🐥", "😃")


def test_problem_details_parse_invalid_parameters() -> None:
    """Problem details parse their invalid_parameters list."""
    problem = structure(
        {"type": "t", "invalid_parameters": [{"name": "email", "reason": "bad"}]}, ProblemDetails
    )
    assert [(p.name, p.reason) for p in problem.invalid_parameters] == [("email", "bad")]


def test_models_are_frozen() -> None:
    """Models cannot be changed in place."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Profile(about="x").about = "y"  # type: ignore[misc]
