"""The aiohttp application: routes, request validation, auth, rate limit and faults.

Validation follows the spec's schemas (required fields, types, enums, lengths) and answers
with the error the spec gives the operation:

======================  =====================================================================
operation               missing / invalid field
======================  =====================================================================
create deployment       422 ``#unprocessable`` (the spec's own ErrorUnprocessable example,
                        "Request was missing a waba_id", is this operation's; its responses
                        list omits 422)
resend-otp              400 ``#invalid-json`` (the operation lists 400, not 422)
verify                  422 ``#verification-failed``
update profile          422 ``#unprocessable-profile-update``
update photo            422 ``#unprocessable``
create stickerpack      400 ``#invalid-json`` (lists 400, not 422)
create sticker          400 ``#invalid-json`` (lists neither; 400 as for sticker packs)
======================  =====================================================================

Malformed JSON is 400 ``#invalid-json`` everywhere; ``invalid_parameters`` names each field.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..models import PROFILE_LIMITS, Vertical
from ._auth import Authenticator
from ._clock import ScaledClock
from ._config import Account, SandboxConfig
from ._engine import FIRST_PARTY_PACKS, SandboxEngine
from ._faults import Fault, FaultInjector, RateLimiter
from ._problems import (
    GENERIC,
    PROVISIONING,
    SandboxProblem,
    invalid_json,
    not_found,
    problem_response,
    throttled,
)

__all__ = ["API_PREFIX", "ENGINE", "INBOX_PREFIX", "create_app"]

#: Where the API lives, as on ``api.nexmo.com``.
API_PREFIX = "/v0.1/whatsapp-manager"
#: Sandbox-only endpoints (the OTP inbox): authenticated, never rate limited nor faulted.
INBOX_PREFIX = "/_sandbox"

#: The application's :class:`SandboxEngine`.
ENGINE = web.AppKey("wamanager_sandbox_engine", SandboxEngine)
_AUTH = web.AppKey("wamanager_sandbox_auth", Authenticator)
_LIMITER = web.AppKey("wamanager_sandbox_limiter", RateLimiter)
_FAULTS = web.AppKey("wamanager_sandbox_faults", FaultInjector)
# aiohttp 3.13+ wants typed request keys; older versions take a plain string.
_ACCOUNT: Any = (
    web.RequestKey("wamanager_sandbox_account", Account)  # type: ignore[attr-defined,unused-ignore]
    if hasattr(web, "RequestKey")
    else "wamanager_sandbox_account"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Params = list[tuple[str, str]]

_WEBSITES_MAX = 2
_WEBSITE_LENGTH_MAX = 256
_PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
_METHODS = ("sms", "voice")


# --- helpers ---------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data, ensure_ascii=False), content_type="application/json"
    )


def _account(request: web.Request) -> Account:
    account: Account = request[_ACCOUNT]
    return account


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise invalid_json("The request body is empty; send a JSON object.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid_json(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid_json(f"The request body must be a JSON object, not {type(data).__name__}.")
    return data


def _string(body: dict[str, Any], field: str, found: Params, *, required: bool) -> str | None:
    if field not in body:
        if required:
            found.append((field, f"Request was missing a {field}"))
        return None
    value = body[field]
    if not isinstance(value, str):
        found.append((field, f"{field} must be a string"))
        return None
    return value


def _enum(
    body: dict[str, Any], field: str, choices: tuple[str, ...], found: Params, *, required: bool
) -> str | None:
    value = _string(body, field, found, required=required)
    if value is not None and value not in choices:
        found.append((field, f"{field} must be one of {', '.join(choices)}"))
        return None
    return value


def _raise_if(found: Params, status: int, fragment: str, title: str) -> None:
    if found:
        detail = "; ".join(reason for _, reason in found)
        raise SandboxProblem(
            status, f"{PROVISIONING}#{fragment}", title, detail, invalid_parameters=found
        )


def _namespace(request: web.Request) -> str | None:
    return request.query.get("namespace")


# --- deployments -----------------------------------------------------------------------


async def create_deployment(request: web.Request) -> web.Response:
    """``POST /deployments``: 202 DeploymentResponse."""
    account = _account(request)
    body = await _body(request)
    if account.forbidden:
        raise SandboxProblem(
            403,
            f"{GENERIC}#forbidden",
            "Forbidden",
            "Your account does not have permission to perform this action - see "
            "https://www.vonage.com/communications-apis/contact-api/ for more details about "
            "getting signed up to send WhatsApp messages.",
        )
    found: Params = []
    fields = {
        name: _string(body, name, found, required=True)
        for name in ("country_code", "number", "vname_certificate", "waba_id")
    }
    method = _enum(body, "method", _METHODS, found, required=True)
    _string(body, "pin", found, required=False)
    _raise_if(found, 422, "unprocessable", "Unprocessable Entity")
    dep = request.app[ENGINE].create(
        account.api_key,
        country_code=fields["country_code"] or "",
        number=fields["number"] or "",
        waba_id=fields["waba_id"] or "",
        method=method or "sms",
    )
    return _json(dep.to_json(), 202)


async def list_deployments(request: web.Request) -> web.Response:
    """``GET /deployments`` (not in the spec): a JSON array of the account's deployments."""
    deps = request.app[ENGINE].list(_account(request).api_key)
    return _json([dep.to_json() for dep in deps])


async def get_deployment(request: web.Request) -> web.Response:
    """``GET /deployments/{id}``: 200 DeploymentResponse."""
    dep = request.app[ENGINE].find(_account(request).api_key, request.match_info["deployment_id"])
    return _json(dep.to_json())


async def delete_deployment(request: web.Request) -> web.Response:
    """``DELETE /deployments/{id}``: 204."""
    request.app[ENGINE].delete(_account(request).api_key, request.match_info["deployment_id"])
    return web.Response(status=204)


# --- OTP -------------------------------------------------------------------------------


async def resend_otp(request: web.Request) -> web.Response:
    """``POST /deployments/{id}/resend-otp``: 202 ResendOtpResponse."""
    account = _account(request)
    body = await _body(request)
    found: Params = []
    method = _enum(body, "method", _METHODS, found, required=False)
    _raise_if(found, 400, "invalid-json", "Bad Request")
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    method = method or engine.find(account.api_key, dep_id).method
    dep = engine.resend(account.api_key, dep_id, method)
    return _json(
        {"message": "Code sent", "vname": f"Sandbox {dep.msisdn}", "method": dep.method}, 202
    )


async def verify(request: web.Request) -> web.Response:
    """``POST /deployments/{id}/verify``: 201 ``{deployment_id, status}``."""
    account = _account(request)
    body = await _body(request)
    found: Params = []
    code = _string(body, "code", found, required=True)
    _raise_if(found, 422, "verification-failed", "Verification Failed")
    dep = request.app[ENGINE].verify(
        account.api_key, request.match_info["deployment_id"], code or ""
    )
    return _json({"deployment_id": dep.deployment_id, "status": "Code verified"}, 201)


async def inbox(request: web.Request) -> web.Response:
    """``GET /_sandbox/deployments/{id}/otp``: the last delivered code, or 404."""
    message = request.app[ENGINE].inbox(
        _account(request).api_key, request.match_info["deployment_id"]
    )
    if message is None:
        raise not_found("No code has been delivered to this deployment's number.")
    return _json(message.to_json())


# --- profile ---------------------------------------------------------------------------


async def get_profile(request: web.Request) -> web.Response:
    """``GET /deployments/{id}/profile``: 200 profile."""
    dep = request.app[ENGINE].find_ready(
        _account(request).api_key, request.match_info["deployment_id"]
    )
    return _json(dep.profile)


def _profile_problems(body: dict[str, Any]) -> tuple[dict[str, Any], Params]:
    found: Params = []
    changes: dict[str, Any] = {}
    for field, (low, high) in PROFILE_LIMITS.items():
        value = _string(body, field, found, required=False)
        if value is None:
            continue
        if not low <= len(value) <= high:
            found.append((field, f"{field} must be {low} to {high} characters long"))
        else:
            changes[field] = value
    vertical = _enum(body, "vertical", tuple(v.value for v in Vertical), found, required=False)
    if vertical is not None:
        changes["vertical"] = vertical
    if "websites" in body:
        sites = body["websites"]
        if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
            found.append(("websites", "websites must be an array of strings"))
        elif not 1 <= len(sites) <= _WEBSITES_MAX:
            found.append(("websites", f"websites must hold 1 to {_WEBSITES_MAX} items"))
        elif any(len(site) > _WEBSITE_LENGTH_MAX for site in sites):
            found.append(("websites", f"a website must be at most {_WEBSITE_LENGTH_MAX} long"))
        else:
            changes["websites"] = sites
    return changes, found


async def update_profile(request: web.Request) -> web.Response:
    """``PATCH /deployments/{id}/profile``: 200 with the whole updated profile."""
    account = _account(request)
    body = await _body(request)
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    engine.find_ready(account.api_key, dep_id)
    changes, found = _profile_problems(body)
    _raise_if(found, 422, "unprocessable-profile-update", "Unprocessable Entity")
    return _json(engine.update_profile(account.api_key, dep_id, changes))


async def get_photo(request: web.Request) -> web.Response:
    """``GET /deployments/{id}/profile/photo``: 200 ``{image_url}`` (``{}`` before any)."""
    dep = request.app[ENGINE].find_ready(
        _account(request).api_key, request.match_info["deployment_id"]
    )
    return _json({} if dep.photo_url is None else {"image_url": dep.photo_url})


async def update_photo(request: web.Request) -> web.Response:
    """``POST /deployments/{id}/profile/photo``: 200 ``{image_url}``; 422 for a bad URL."""
    account = _account(request)
    body = await _body(request)
    dep = request.app[ENGINE].find_ready(account.api_key, request.match_info["deployment_id"])
    found: Params = []
    url = _string(body, "image_url", found, required=True)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            found.append(("image_url", "Url was not in a valid format"))
        elif not parts.path.lower().endswith(_PHOTO_SUFFIXES):
            found.append(("image_url", "Url must point to a .png or .jpg image"))
    _raise_if(found, 422, "unprocessable", "Unprocessable Entity")
    dep.photo_url = url
    return _json({"image_url": url})


# --- sticker packs and stickers --------------------------------------------------------


async def list_stickerpacks(request: web.Request) -> web.Response:
    """``GET .../stickerpacks`` (``?namespace=whatsapp``: WhatsApp's own packs)."""
    dep = request.app[ENGINE].find_ready(
        _account(request).api_key, request.match_info["deployment_id"]
    )
    packs = FIRST_PARTY_PACKS if _namespace(request) == "whatsapp" else dep.packs
    return _json({"stickerpacks": [{"id": pack_id} for pack_id in packs]})


async def create_stickerpack(request: web.Request) -> web.Response:
    """``POST .../stickerpacks``: 200 ``{stickerpacks: [{id}]}``."""
    account = _account(request)
    body = await _body(request)
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    engine.find_ready(account.api_key, dep_id)
    found: Params = []
    details: dict[str, Any] = {}
    for field, required in (
        ("name", True),
        ("publisher", True),
        ("android_app_store_link", False),
        ("ios_app_store_link", False),
    ):
        value = _string(body, field, found, required=required)
        if value is not None:
            details[field] = value
    _raise_if(found, 400, "invalid-json", "Bad Request")
    pack_id = engine.create_pack(account.api_key, dep_id, details)
    return _json({"stickerpacks": [{"id": pack_id}]})


async def get_stickerpack(request: web.Request) -> web.Response:
    """``GET .../stickerpacks/{pack}``: 200 ``{stickerpacks: [{name, publisher, ...}]}``."""
    pack = request.app[ENGINE].pack(
        _account(request).api_key,
        request.match_info["deployment_id"],
        request.match_info["stickerpack_id"],
        _namespace(request),
    )
    return _json({"stickerpacks": [pack["details"]]})


async def list_stickers(request: web.Request) -> web.Response:
    """``GET .../stickers``: 200 ``{stickers: [{index}]}``."""
    pack = request.app[ENGINE].pack(
        _account(request).api_key,
        request.match_info["deployment_id"],
        request.match_info["stickerpack_id"],
        _namespace(request),
    )
    return _json({"stickers": [{"index": index} for index in pack["stickers"]]})


async def create_sticker(request: web.Request) -> web.Response:
    """``POST .../stickers``: 200 ``{stickers: [{index}]}``."""
    account = _account(request)
    body = await _body(request)
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    pack_id = request.match_info["stickerpack_id"]
    engine.pack(account.api_key, dep_id, pack_id, None)
    found: Params = []
    image = _string(body, "image_data_id", found, required=True)
    emojis = body.get("emojis", [])
    if not isinstance(emojis, list) or not all(isinstance(e, str) for e in emojis):
        found.append(("emojis", "emojis must be an array of strings"))
    _raise_if(found, 400, "invalid-json", "Bad Request")
    index = engine.add_sticker(
        account.api_key, dep_id, pack_id, {"image_data_id": image, "emojis": list(emojis)}
    )
    return _json({"stickers": [{"index": index}]})


async def _one_sticker(request: web.Request, *, remove: bool) -> web.Response:
    sticker = request.app[ENGINE].sticker(
        _account(request).api_key,
        request.match_info["deployment_id"],
        request.match_info["stickerpack_id"],
        request.match_info["sticker_index"],
        _namespace(request),
        remove=remove,
    )
    return _json({"stickers": [sticker]})


async def get_sticker(request: web.Request) -> web.Response:
    """``GET .../stickers/{index}``: 200 ``{stickers: [{id, image_data_id, emojis}]}``."""
    return await _one_sticker(request, remove=False)


async def delete_sticker(request: web.Request) -> web.Response:
    """``DELETE .../stickers/{index}``: 200 with the deleted sticker."""
    return await _one_sticker(request, remove=True)


# --- middlewares -----------------------------------------------------------------------


def _is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


@web.middleware
async def _problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SandboxProblem as problem:
        return problem_response(problem)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return problem_response(
            SandboxProblem(
                405,
                f"{GENERIC}#method-not-allowed",
                "Method Not Allowed",
                f"{request.method} is not allowed here; allowed: {allowed}.",
                headers={"Allow": allowed},
            )
        )
    except web.HTTPNotFound:
        return problem_response(not_found("No such resource."))


def _server_error(fault: Fault) -> SandboxProblem:
    if fault is Fault.ERROR_503:
        return SandboxProblem(
            503,
            f"{GENERIC}#service-unavailable",
            "Service Unavailable",
            "The service is temporarily unavailable (injected by the sandbox).",
        )
    return SandboxProblem(
        500,
        f"{GENERIC}#internal-error",
        "Internal Server Error",
        "Something went wrong (injected by the sandbox).",
    )


@web.middleware
async def _faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    injector = request.app.get(_FAULTS)
    if injector is None or not _is_api(request):
        return await handler(request)
    decision = injector.decide()
    if decision.latency > 0:
        await asyncio.sleep(decision.latency)
    if decision.fault is Fault.DROP:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # Nothing can be written to an aborted transport; aiohttp discards this answer.
        return web.Response(status=500)
    if decision.fault in (Fault.ERROR_500, Fault.ERROR_503):
        return problem_response(_server_error(decision.fault))
    response = await handler(request)
    if decision.fault is Fault.MALFORMED and isinstance(response, web.Response):
        body = response.body if isinstance(response.body, bytes) else b""
        truncated = body[: len(body) // 2] if len(body) > 1 else b'{"deployment'
        status = response.status if response.status != 204 else 200
        return web.Response(status=status, body=truncated, content_type="application/json")
    return response


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_api(request) or request.path.startswith(INBOX_PREFIX + "/"):
        account = request.app[_AUTH].authenticate(request.headers.get("Authorization"))
        request[_ACCOUNT] = account
        limiter = request.app.get(_LIMITER)
        if limiter is not None and _is_api(request):
            wait = limiter.acquire(account.api_key)
            if wait is not None:
                raise throttled(wait, "Exceeded rate limit for this API, please wait and try again")
    return await handler(request)


# --- the application -------------------------------------------------------------------


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """The sandbox as an :class:`aiohttp.web.Application` (serve it, or test it in-process).

    Every spec operation and ``GET /deployments`` is under :data:`API_PREFIX`; the OTP inbox
    is ``GET /_sandbox/deployments/{id}/otp``. The engine is ``app[ENGINE]``.
    """
    config = config or SandboxConfig()
    clock = config.clock or ScaledClock(config.speed)
    app = web.Application(middlewares=[_problems, _faults, _auth])
    app[ENGINE] = SandboxEngine(config, clock)
    app[_AUTH] = Authenticator(config)
    if config.rate_limit is not None:
        app[_LIMITER] = RateLimiter(config.rate_limit, config.rate_burst, clock)
    if config.faults.active:
        app[_FAULTS] = FaultInjector(config.faults, config.seed)
    one = API_PREFIX + "/deployments/{deployment_id}"
    packs = one + "/stickerpacks"
    stickers = packs + "/{stickerpack_id}/stickers"
    app.router.add_post(API_PREFIX + "/deployments", create_deployment)
    app.router.add_get(API_PREFIX + "/deployments", list_deployments)
    app.router.add_get(one, get_deployment)
    app.router.add_delete(one, delete_deployment)
    app.router.add_post(one + "/resend-otp", resend_otp)
    app.router.add_post(one + "/verify", verify)
    app.router.add_get(one + "/profile", get_profile)
    app.router.add_patch(one + "/profile", update_profile)
    app.router.add_get(one + "/profile/photo", get_photo)
    app.router.add_post(one + "/profile/photo", update_photo)
    app.router.add_get(packs, list_stickerpacks)
    app.router.add_post(packs, create_stickerpack)
    app.router.add_get(packs + "/{stickerpack_id}", get_stickerpack)
    app.router.add_get(stickers, list_stickers)
    app.router.add_post(stickers, create_sticker)
    app.router.add_get(stickers + "/{sticker_index}", get_sticker)
    app.router.add_delete(stickers + "/{sticker_index}", delete_sticker)
    app.router.add_get(INBOX_PREFIX + "/deployments/{deployment_id}/otp", inbox)
    return app
