"""The API's request handlers, one per operation (moto's ``responses.py``).

Each reads what the request says (path, query, body), calls the engine once and answers
with the spec's status and body. What the body must hold is checked by
:mod:`._request_body`; state and its rules are the engine's; who is calling was settled by
the middleware (:mod:`._middleware`), which also turns every raised problem into its answer.
The order of the checks is the API's: a bad body is refused before anything is looked up,
an unknown deployment (404) before a bad field (4xx).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import _rules as rules
from . import _request_body as body_rules
from ._app_keys import ENGINE, account_of
from ._engine import SandboxEngine
from ._problems import forbidden, json_response
from ._records import StoredDeployment
from ._request_body import read_body

__all__ = [
    "create_deployment",
    "create_sticker",
    "create_stickerpack",
    "delete_deployment",
    "delete_sticker",
    "get_deployment",
    "get_photo",
    "get_profile",
    "get_sticker",
    "get_stickerpack",
    "list_deployments",
    "list_stickerpacks",
    "list_stickers",
    "resend_otp",
    "update_photo",
    "update_profile",
    "verify",
]

#: The ``meta`` object WhatsApp's sticker endpoints add to their answers (the sticker guide's).
STICKER_META = {"version": "v2.37.1", "api_status": "stable"}
_PACK_FIELDS = ("name", "publisher", "android_app_store_link", "ios_app_store_link")
_FORBIDDEN = (
    "Your account does not have permission to perform this action - see "
    "https://www.vonage.com/communications-apis/contact-api/ for more details about "
    "getting signed up to send WhatsApp messages."
)


def _engine(request: web.Request) -> SandboxEngine:
    return request.app[ENGINE]


def _caller(request: web.Request) -> str:
    """The api key of the calling account."""
    return account_of(request).api_key


def _deployment_id(request: web.Request) -> str:
    return request.match_info["deployment_id"]


def _namespace(request: web.Request) -> str | None:
    """The request's ``?namespace=`` (``"whatsapp"``: WhatsApp's own sticker packs)."""
    return request.query.get("namespace")


def _ready(request: web.Request) -> StoredDeployment:
    """The path's deployment, READY (404 otherwise)."""
    return _engine(request).find_ready(_caller(request), _deployment_id(request))


def _pack(request: web.Request, namespace: str | None) -> dict[str, Any]:
    """The path's sticker pack (404 when unknown)."""
    pack_id = request.match_info["stickerpack_id"]
    return _engine(request).pack(_caller(request), _deployment_id(request), pack_id, namespace)


def _sticker_json(data: dict[str, Any]) -> web.Response:
    return json_response({**data, "meta": STICKER_META})


# --- deployments -----------------------------------------------------------------------


async def create_deployment(request: web.Request) -> web.Response:
    """``POST /deployments``: 202 DeploymentResponse."""
    body = await read_body(request)
    if account_of(request).forbidden:
        raise forbidden(_FORBIDDEN)
    body_rules.CREATE_DEPLOYMENT.check(body)
    dep = _engine(request).create(
        _caller(request),
        country_code=body["country_code"],
        number=body["number"],
        waba_id=body["waba_id"],
        method=body["method"],
    )
    return json_response(dep.to_json(), 202)


async def list_deployments(request: web.Request) -> web.Response:
    """``GET /deployments`` (not in the spec): a JSON array of the account's deployments."""
    deps = _engine(request).list(_caller(request))
    return json_response([dep.to_json() for dep in deps])


async def get_deployment(request: web.Request) -> web.Response:
    """``GET /deployments/{id}``: 200 DeploymentResponse."""
    dep = _engine(request).find(_caller(request), _deployment_id(request))
    return json_response(dep.to_json())


async def delete_deployment(request: web.Request) -> web.Response:
    """``DELETE /deployments/{id}``: 204."""
    _engine(request).delete(_caller(request), _deployment_id(request))
    return web.Response(status=204)


# --- OTP -------------------------------------------------------------------------------


async def resend_otp(request: web.Request) -> web.Response:
    """``POST /deployments/{id}/resend-otp``: 202 ResendOTPResponse."""
    body = await read_body(request)
    body_rules.RESEND_OTP.check(body)
    dep = _engine(request).resend(_caller(request), _deployment_id(request), body.get("method"))
    return json_response(
        {"message": "Code sent", "vname": f"Sandbox {dep.msisdn}", "method": dep.method}, 202
    )


async def verify(request: web.Request) -> web.Response:
    """``POST /deployments/{id}/verify``: 201 ``{deployment_id, status}``."""
    body = await read_body(request)
    body_rules.VERIFY.check(body)
    dep = _engine(request).verify(_caller(request), _deployment_id(request), body["code"])
    return json_response({"deployment_id": dep.deployment_id, "status": "Code verified"}, 201)


# --- profile ---------------------------------------------------------------------------


async def get_profile(request: web.Request) -> web.Response:
    """``GET /deployments/{id}/profile``: 200 profile."""
    return json_response(_ready(request).profile)


async def update_profile(request: web.Request) -> web.Response:
    """``PATCH /deployments/{id}/profile``: 200 with the whole updated profile."""
    body = await read_body(request)
    _ready(request)
    body_rules.UPDATE_PROFILE.check(body)
    changes = {field: body[field] for field in rules.PROFILE_FIELDS if field in body}
    profile = _engine(request).update_profile(_caller(request), _deployment_id(request), changes)
    return json_response(profile)


async def get_photo(request: web.Request) -> web.Response:
    """``GET /deployments/{id}/profile/photo``: 200 ``{image_url}`` (``{}`` before any)."""
    photo_url = _ready(request).photo_url
    return json_response({} if photo_url is None else {"image_url": photo_url})


async def update_photo(request: web.Request) -> web.Response:
    """``POST /deployments/{id}/profile/photo``: 200 ``{image_url}``; 422 for a bad URL."""
    body = await read_body(request)
    _ready(request)
    body_rules.UPDATE_PHOTO.check(body)
    url = _engine(request).update_photo(
        _caller(request), _deployment_id(request), body["image_url"]
    )
    return json_response({"image_url": url})


# --- sticker packs and stickers --------------------------------------------------------


async def list_stickerpacks(request: web.Request) -> web.Response:
    """``GET .../stickerpacks`` (``?namespace=whatsapp``: WhatsApp's own packs)."""
    ids = _ready(request).packs.ids(_namespace(request))
    return _sticker_json({"stickerpacks": [{"id": pack_id} for pack_id in ids]})


async def create_stickerpack(request: web.Request) -> web.Response:
    """``POST .../stickerpacks``: 200 ``{stickerpacks: [{id}]}``."""
    body = await read_body(request)
    _ready(request)
    body_rules.CREATE_STICKERPACK.check(body)
    details = {field: body[field] for field in _PACK_FIELDS if field in body}
    pack_id = _engine(request).create_pack(_caller(request), _deployment_id(request), details)
    return _sticker_json({"stickerpacks": [{"id": pack_id}]})


async def get_stickerpack(request: web.Request) -> web.Response:
    """``GET .../stickerpacks/{pack}``: 200 ``{stickerpacks: [{name, publisher, ...}]}``."""
    pack = _pack(request, _namespace(request))
    return _sticker_json({"stickerpacks": [pack["details"]]})


async def list_stickers(request: web.Request) -> web.Response:
    """``GET .../stickers``: 200 ``{stickers: [{index}]}``."""
    pack = _pack(request, _namespace(request))
    return _sticker_json({"stickers": [{"index": index} for index in pack["stickers"]]})


async def create_sticker(request: web.Request) -> web.Response:
    """``POST .../stickers``: 200 ``{stickers: [{index}]}``."""
    body = await read_body(request)
    _pack(request, None)
    body_rules.CREATE_STICKER.check(body)
    sticker = {"image_data_id": body["image_data_id"], "emojis": list(body.get("emojis", []))}
    index = _engine(request).add_sticker(
        _caller(request), _deployment_id(request), request.match_info["stickerpack_id"], sticker
    )
    return _sticker_json({"stickers": [{"index": index}]})


async def _one_sticker(request: web.Request, *, remove: bool) -> web.Response:
    sticker = _engine(request).sticker(
        _caller(request),
        _deployment_id(request),
        request.match_info["stickerpack_id"],
        request.match_info["sticker_index"],
        _namespace(request),
        remove=remove,
    )
    return _sticker_json({"stickers": [sticker]})


async def get_sticker(request: web.Request) -> web.Response:
    """``GET .../stickers/{index}``: 200 ``{stickers: [{id, image_data_id, emojis}]}``."""
    return await _one_sticker(request, remove=False)


async def delete_sticker(request: web.Request) -> web.Response:
    """``DELETE .../stickers/{index}``: 200 with the deleted sticker."""
    return await _one_sticker(request, remove=True)
