"""Shared helpers for the client's tests: the spec, every operation with a sample answer,
and a client bound to :class:`wamanager.testing.FakeAPI` with recorded sleeps.

The fake API is a real :mod:`aiohttp.web` server on 127.0.0.1, so the client's requests go
through aiohttp's real URL handling, timeouts and connection errors (aioresponses 0.7.9
cannot build responses under aiohttp 3.14).
"""

from __future__ import annotations

import copy
import functools
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import yaml

from wamanager import BasicAuth, DeploymentRequest, Profile, Vertical, WhatsAppManager
from wamanager.testing import BASE_PATH, FakeAPI, SleepRecorder

#: The spec files kept in the repository (see spec/README.md).
SPEC_DIR = Path(__file__).parents[1] / "spec"
SPEC_PATH = SPEC_DIR / "whatsapp-provisioning.yml"
PATCHED_SPEC_PATH = SPEC_DIR / "whatsapp-provisioning.patched.yml"
API_KEY = "abcd1234"
API_SECRET = "s3cr3t-API-secret-Zq9"
DEP = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
PACK = "sticker-pack-id1"
INDEX = "sticker-index1"
EXISTING = "21801df5-a3f6-4bd6-8b66-5bde51a909c7"


@functools.cache
def _read_spec(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    return data


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The spec as a dict (a fresh copy each time: callers may change theirs)."""
    return copy.deepcopy(_read_spec(path))


def spec_operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId → (HTTP method, path key, operation object)."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow one local ``$ref`` (``#/components/...``)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    result: dict[str, Any] = target
    return result


def problem_from_schema(spec: dict[str, Any], schema_ref: dict[str, Any]) -> dict[str, Any]:
    """An error body built from a spec ``Error*`` schema's own property examples."""
    schema = resolve(spec, schema_ref)
    body: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if prop.get("type") == "array":
            item = {k: v["example"] for k, v in prop["items"]["properties"].items()}
            body[name] = [item]
        else:
            body[name] = prop["example"]
    return body


def refused_url() -> str:
    """A loopback base URL where nothing listens (connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{BASE_PATH}"


# --- every operation, with a sample call and a sample answer -----------------------------

Call = Callable[[WhatsAppManager], Awaitable[Any]]
Check = Callable[[Any], None]


@attrs.frozen
class Op:
    """One client operation: how to call it, what it sends, what it answers."""

    operation_id: str
    http_method: str
    path: str  # the request path after the base path, percent-encoded
    call: Call
    status: int
    body: Any
    check: Check
    sends_body: bool = False
    query: dict[str, str] = attrs.field(factory=dict)


def _deployment_body(state: str = "INITIALIZING") -> dict[str, Any]:
    return {
        "deployment_id": DEP,
        "waba_id": "123456789123",
        "country_code": "44",
        "number": "7700900000",
        "api_key": API_KEY,
        "current_state": {"title": state, "detail": "Initializing deployment"},
        "meta": {"trace": "abc"},
    }


def deployment_request(**overrides: Any) -> DeploymentRequest:
    """A valid create request (override any field)."""
    fields: dict[str, Any] = {
        "country_code": "44",
        "number": "7700900000",
        "vname_certificate": "VNAME-CERT-Xy7Q",
        "waba_id": "123456789123",
        "method": "sms",
    }
    fields.update(overrides)
    return DeploymentRequest(**fields)


def _check_deployment(result: Any) -> None:
    assert result.deployment_id == DEP
    assert result.state == "INITIALIZING"
    assert result.state.is_known
    assert result.detail == "Initializing deployment"
    assert (result.country_code, result.number, result.api_key) == ("44", "7700900000", API_KEY)


def _check_none(result: Any) -> None:
    assert result is None


def _check_list(result: Any) -> None:
    assert [d.deployment_id for d in result] == [DEP, EXISTING]
    assert [str(d.state) for d in result] == ["READY", "PAUSED"]
    assert not result[1].state.is_known


def _check_resend(result: Any) -> None:
    assert (result.message, result.vname, result.method) == ("Code sent", "your vname", "voice")


def _check_verify(result: Any) -> None:
    assert (result.deployment_id, result.status) == (DEP, "Deployment was Created")


PROFILE_BODY = {
    "about": "about your business",
    "address": "123 main street",
    "description": "your business description",
    "email": "you@example.com",
    "vertical": "Food and Grocery",
    "websites": ["https://example.com"],
    "meta": {},
}


def _check_profile(result: Any) -> None:
    assert result.about == "about your business"
    assert result.email == "you@example.com"
    assert result.vertical == Vertical.FOOD_AND_GROCERY
    assert result.websites == ("https://example.com",)


def _check_photo(result: Any) -> None:
    assert result.image_url == "https://www.example.com/img.png"


def _check_pack_refs(result: Any) -> None:
    assert [p.id for p in result] == [PACK, "sticker-pack-id2"]


def _check_pack_ref(result: Any) -> None:
    assert result.id == PACK


def _check_pack(result: Any) -> None:
    assert (result.name, result.publisher) == ("sticker-pack-name", "sticker-pack-publisher")
    assert result.ios_app_store_link == "https://itunes.apple.com/app/id3133333"


def _check_sticker_refs(result: Any) -> None:
    assert [s.index for s in result] == [INDEX, "sticker-index2"]


def _check_sticker_ref(result: Any) -> None:
    assert result.index == INDEX


def _check_sticker(result: Any) -> None:
    assert result.id == "sticker-media-id"
    assert result.image_data_id == "sticker-image-media-id"
    assert result.emojis == ("🐥", "😃")


_STICKER_BODY = {
    "stickers": [
        {
            "id": "sticker-media-id",
            "image_data_id": "sticker-image-media-id",
            "emojis": ["🐥", "😃"],
        }
    ],
    "meta": {},
}
_D = f"/deployments/{DEP}"

#: Every spec operation plus ``list``, keyed by operationId (``listDeployments`` for list).
OPS: dict[str, Op] = {
    op.operation_id: op
    for op in [
        Op(
            "createDeployment",
            "POST",
            "/deployments",
            lambda c: c.deployments.create(deployment_request()),
            202,
            _deployment_body(),
            _check_deployment,
            sends_body=True,
        ),
        Op(
            "listDeployments",
            "GET",
            "/deployments",
            lambda c: c.deployments.list(),
            200,
            [
                {"deployment_id": DEP, "current_state": {"title": "READY"}},
                {"deployment_id": EXISTING, "current_state": {"title": "PAUSED"}, "meta": {}},
            ],
            _check_list,
        ),
        Op(
            "get_deployment",
            "GET",
            _D,
            lambda c: c.deployments.get(DEP),
            200,
            _deployment_body(),
            _check_deployment,
        ),
        Op(
            "deleteDeployment",
            "DELETE",
            _D,
            lambda c: c.deployments.delete(DEP),
            204,
            None,
            _check_none,
        ),
        Op(
            "resend-otp",
            "POST",
            _D + "/resend-otp",
            lambda c: c.otp.resend(DEP, "voice"),
            202,
            {"message": "Code sent", "vname": "your vname", "method": "voice", "meta": {}},
            _check_resend,
            sends_body=True,
        ),
        Op(
            "verify",
            "POST",
            _D + "/verify",
            lambda c: c.otp.verify(DEP, "674639"),
            201,
            {"deployment_id": DEP, "status": "Deployment was Created"},
            _check_verify,
            sends_body=True,
        ),
        Op(
            "getProfileInfo",
            "GET",
            _D + "/profile",
            lambda c: c.profiles.get(DEP),
            200,
            PROFILE_BODY,
            _check_profile,
        ),
        Op(
            "updateProfile",
            "PATCH",
            _D + "/profile",
            lambda c: c.profiles.update(
                DEP,
                Profile(
                    about="about your business",
                    email="you@example.com",
                    vertical=Vertical.FOOD_AND_GROCERY,
                    websites=["https://example.com"],
                ),
            ),
            200,
            PROFILE_BODY,
            _check_profile,
            sends_body=True,
        ),
        Op(
            "getProfilePhoto",
            "GET",
            _D + "/profile/photo",
            lambda c: c.profiles.get_photo(DEP),
            200,
            {"image_url": "https://www.example.com/img.png"},
            _check_photo,
        ),
        Op(
            "updateProfilePhoto",
            "POST",
            _D + "/profile/photo",
            lambda c: c.profiles.update_photo(DEP, "https://www.example.com/img.png"),
            200,
            {"image_url": "https://www.example.com/img.png", "meta": {}},
            _check_photo,
            sends_body=True,
        ),
        Op(
            "getStickerpacks",
            "GET",
            _D + "/stickerpacks",
            lambda c: c.stickerpacks.list(DEP),
            200,
            {"stickerpacks": [{"id": PACK}, {"id": "sticker-pack-id2"}]},
            _check_pack_refs,
        ),
        Op(
            "createStickerpacks",
            "POST",
            _D + "/stickerpacks",
            lambda c: c.stickerpacks.create(
                DEP,
                "your-publisher-name",
                "your-sticker-pack-name",
                ios_app_store_link="https://itunes.apple.com/app/id3133333",
            ),
            200,
            {"stickerpacks": [{"id": PACK}]},
            _check_pack_ref,
            sends_body=True,
        ),
        Op(
            "getWhatsappStickerpacks",
            "GET",
            _D + "/stickerpacks",
            lambda c: c.stickerpacks.list(DEP, namespace="whatsapp"),
            200,
            {"stickerpacks": [{"id": PACK}, {"id": "sticker-pack-id2"}], "meta": {}},
            _check_pack_refs,
            query={"namespace": "whatsapp"},
        ),
        Op(
            "getStickerpacksById",
            "GET",
            _D + f"/stickerpacks/{PACK}",
            lambda c: c.stickerpacks.get(DEP, PACK),
            200,
            {
                "stickerpacks": [
                    {
                        "name": "sticker-pack-name",
                        "publisher": "sticker-pack-publisher",
                        "android_app_store_link": "https://play.google.com/store/apps/details?id=x",
                        "ios_app_store_link": "https://itunes.apple.com/app/id3133333",
                    }
                ]
            },
            _check_pack,
        ),
        Op(
            "getStickers",
            "GET",
            _D + f"/stickerpacks/{PACK}/stickers",
            lambda c: c.stickers.list(DEP, PACK),
            200,
            {"stickers": [{"index": INDEX}, {"index": "sticker-index2"}]},
            _check_sticker_refs,
        ),
        Op(
            "createStickers",
            "POST",
            _D + f"/stickerpacks/{PACK}/stickers",
            lambda c: c.stickers.create(DEP, PACK, "id", ["🐥", "😃"]),
            200,
            {"stickers": [{"index": INDEX}]},
            _check_sticker_ref,
            sends_body=True,
        ),
        Op(
            "getStickerByIndex",
            "GET",
            _D + f"/stickerpacks/{PACK}/stickers/{INDEX}",
            lambda c: c.stickers.get(DEP, PACK, INDEX),
            200,
            _STICKER_BODY,
            _check_sticker,
        ),
        Op(
            "deleteStickerByIndex",
            "DELETE",
            _D + f"/stickerpacks/{PACK}/stickers/{INDEX}",
            lambda c: c.stickers.delete(DEP, PACK, INDEX),
            200,
            _STICKER_BODY,
            _check_sticker,
        ),
    ]
}


#: The rate ceiling of test clients: high enough that the limiter never spaces their
#: requests, so recorded sleeps are retry waits only (pass rate_limit=None to test learning).
UNSPACED = 1e6


def client_for(api: FakeAPI, sleep: SleepRecorder, **kwargs: Any) -> WhatsAppManager:
    """A client bound to the fake, with basic auth, recorded sleeps, no jitter and no
    spacing of requests (see UNSPACED)."""
    kwargs.setdefault("auth", BasicAuth(API_KEY, API_SECRET))
    kwargs.setdefault("base_url", api.base_url)
    kwargs.setdefault("rng", lambda: 0.0)
    kwargs.setdefault("rate_limit", UNSPACED)
    return WhatsAppManager(sleep=sleep, **kwargs)
