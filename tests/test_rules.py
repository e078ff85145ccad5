"""Client and sandbox agree on every request rule: one table, both sides.

Each row is a request model. The client's check (``wamanager._rules.validate``) and the
sandbox, sent the same fields over HTTP, must name the same fields for the same reasons; a
model the client accepts must pass the sandbox's checks too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from wamanager import DeploymentRequest, Profile, ValidationError
from wamanager._models import (
    PhotoUpdate,
    ResendRequest,
    StickerCreate,
    StickerpackCreate,
    VerifyRequest,
)
from wamanager._rules import fields_of, problems, validate
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle
from wamanager.testing import sandbox_client

from .sandbox.helpers import call, fragment, parameter_names

LONE = "\ud83d"  # half of an emoji's surrogate pair


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """A manual clock, and no rate limit: the table sends about a hundred requests at once."""
    return SandboxConfig(clock=ManualClock(), rate_limit=None)


def dep(**changes: Any) -> DeploymentRequest:
    """A valid deployment request with ``changes``."""
    fields: dict[str, Any] = {
        "country_code": "44",
        "number": "7700900000",
        "vname_certificate": "cert",
        "waba_id": "123",
    }
    return DeploymentRequest(**{**fields, **changes})


# (model, fields the client and the sandbox both name; [] when valid)
ROWS: list[Any] = [
    # create deployment: 422 #unprocessable
    pytest.param(dep(), [], id="create-valid"),
    pytest.param(dep(country_code="1", number="2025550123"), [], id="create-nanp"),
    pytest.param(dep(number="7" * 13), [], id="create-15-digits"),
    pytest.param(dep(number="7" * 14), ["number"], id="create-16-digits"),
    pytest.param(dep(number="abc"), ["number"], id="create-number-letters"),
    pytest.param(dep(country_code="1234"), ["country_code"], id="create-cc-4-digits"),
    pytest.param(dep(country_code="044"), ["country_code"], id="create-cc-leading-0"),
    pytest.param(dep(country_code="+44"), ["country_code"], id="create-cc-plus"),
    pytest.param(dep(country_code=44), ["country_code"], id="create-cc-int"),
    pytest.param(dep(method="fax"), ["method"], id="create-method"),
    pytest.param(dep(pin="12a4"), ["pin"], id="create-pin"),
    pytest.param(dep(waba_id=""), ["waba_id"], id="create-waba-empty"),
    pytest.param(dep(vname_certificate=None), ["vname_certificate"], id="create-cert-missing"),
    pytest.param(dep(number="77" + LONE), ["number"], id="create-surrogate"),
    pytest.param(
        dep(country_code="", number="x", waba_id=1, method="fax"),
        ["country_code", "number", "waba_id", "method"],
        id="create-many",
    ),
    # resend-otp: 400 #invalid-json
    pytest.param(ResendRequest("voice"), [], id="resend-valid"),
    pytest.param(ResendRequest("fax"), ["method"], id="resend-method"),
    pytest.param(ResendRequest(None), ["method"], id="resend-null"),
    # verify: 422 #verification-failed
    pytest.param(VerifyRequest(""), ["code"], id="verify-empty"),
    pytest.param(VerifyRequest(123456), ["code"], id="verify-int"),
    pytest.param(VerifyRequest("12" + LONE), ["code"], id="verify-surrogate"),
    # profile: 422 #unprocessable-profile-update
    pytest.param(
        Profile(about="Hi", email="you@example.com", websites=["https://x.io"]), [], id="profile"
    ),
    pytest.param(Profile(email="not-an-email"), ["email"], id="profile-email"),
    pytest.param(Profile(about="a" * 140), ["about"], id="profile-about-long"),
    pytest.param(Profile(address=""), ["address"], id="profile-address-empty"),
    pytest.param(Profile(vertical="Bakery"), ["vertical"], id="profile-vertical"),
    pytest.param(Profile(websites=["example.com"]), ["websites[0]"], id="profile-site-bare"),
    pytest.param(
        Profile(websites=["https://a.io", "ftp://b.io"]), ["websites[1]"], id="profile-site-ftp"
    ),
    pytest.param(Profile(websites=["https://a.io"] * 3), ["websites"], id="profile-3-sites"),
    pytest.param(Profile(websites=5), ["websites"], id="profile-sites-int"),
    pytest.param(Profile(), ["profile"], id="profile-empty"),
    pytest.param(Profile(about="caf" + LONE), ["about"], id="profile-surrogate"),
    pytest.param(
        Profile(websites=["https://x.io/" + LONE]), ["websites[0]"], id="profile-site-surrogate"
    ),
    # photo: 422 #unprocessable
    pytest.param(PhotoUpdate("https://cdn.example.com/a.png"), [], id="photo-valid"),
    pytest.param(PhotoUpdate("ftp://cdn.example.com/a.png"), ["image_url"], id="photo-ftp"),
    pytest.param(PhotoUpdate("https://cdn.example.com/a.gif"), ["image_url"], id="photo-gif"),
    pytest.param(PhotoUpdate("https://[::1/a.png"), ["image_url"], id="photo-bad-ipv6"),
    pytest.param(
        PhotoUpdate("https://x.io/" + "a" * 2048 + ".png"), ["image_url"], id="photo-long"
    ),
    # sticker pack: 400 #invalid-json
    pytest.param(StickerpackCreate("pub", "Pack"), [], id="pack-valid"),
    pytest.param(StickerpackCreate("", "Pack"), ["publisher"], id="pack-publisher-empty"),
    pytest.param(StickerpackCreate("p", "n" * 129), ["name"], id="pack-name-long"),
    pytest.param(
        StickerpackCreate("p", "n", ios_app_store_link="itunes"),
        ["ios_app_store_link"],
        id="pack-link",
    ),
    # sticker: 400 #invalid-json
    pytest.param(StickerCreate("media", ["🐥", "😃"]), [], id="sticker-valid"),
    pytest.param(StickerCreate(""), ["image_data_id"], id="sticker-no-media"),
    pytest.param(StickerCreate("m", ["🐥"] * 4), ["emojis"], id="sticker-4-emojis"),
    pytest.param(StickerCreate("m", None), ["emojis"], id="sticker-emojis-null"),
    pytest.param(StickerCreate("m", ["x" * 33]), ["emojis[0]"], id="sticker-emoji-long"),
]

# operation of each model: method, path (under the READY deployment), status, fragment
OPERATIONS: dict[type, tuple[str, str, int, str]] = {
    DeploymentRequest: ("POST", "/deployments", 422, "unprocessable"),
    ResendRequest: ("POST", "/deployments/{dep}/resend-otp", 400, "invalid-json"),
    VerifyRequest: ("POST", "/deployments/{dep}/verify", 422, "verification-failed"),
    Profile: ("PATCH", "/deployments/{dep}/profile", 422, "unprocessable-profile-update"),
    PhotoUpdate: ("POST", "/deployments/{dep}/profile/photo", 422, "unprocessable"),
    StickerpackCreate: ("POST", "/deployments/{dep}/stickerpacks", 400, "invalid-json"),
    StickerCreate: (
        "POST",
        "/deployments/{dep}/stickerpacks/{pack}/stickers",
        400,
        "invalid-json",
    ),
}


@pytest.fixture
async def ready_ids(sandbox: SandboxHandle) -> dict[str, str]:
    """A READY deployment (number 447700900999) and a sticker pack of it."""
    async with sandbox_client(sandbox) as wam:
        created = await wam.deployments.create(dep(number="7700900999"))
        sandbox.advance(130)
        message = sandbox.otp(created.deployment_id)
        assert message is not None
        await wam.otp.verify(created.deployment_id, message.code)
        sandbox.advance(35)
        pack = await wam.stickerpacks.create(created.deployment_id, "p", "n")
    return {"dep": created.deployment_id, "pack": pack.id}


def _client_side(model: Any) -> Iterator[tuple[str, str]]:
    if not problems(model):
        validate(model)  # no exception
        return
    with pytest.raises(ValidationError) as caught:
        validate(model)
    yield from caught.value.errors


@pytest.mark.parametrize(("model", "fields"), ROWS)
async def test_client_and_sandbox_name_the_same_fields_for_the_same_reasons(
    sandbox: SandboxHandle, ready_ids: dict[str, str], model: Any, fields: list[str]
) -> None:
    """The client's ValidationError and the sandbox's invalid_parameters agree, row by row."""
    client = list(_client_side(model))
    assert [field for field, _ in client] == fields
    method, path, status, kind = OPERATIONS[type(model)]
    got, body, _ = await call(sandbox, method, path.format(**ready_ids), fields_of(model))
    if not fields:  # the sandbox's checks pass (the call may still fail for its state)
        assert got < 400 or not body.get("invalid_parameters"), body
        return
    if LONE in json.dumps(fields_of(model), ensure_ascii=False):
        status, kind = 400, "invalid-json"  # undecodable text is refused before field rules
    assert (got, fragment(body)) == (status, kind), body
    assert parameter_names(body) == fields
    sandbox_reasons = [(p["name"], p["reason"]) for p in body["invalid_parameters"]]
    assert sandbox_reasons == client
