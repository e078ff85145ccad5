"""The aiohttp application: routes, request validation, auth, rate limit, faults, control API.

Bodies are checked as production checks them: they must be sent as ``application/json``, be
a JSON object of at most ``max_body_size`` bytes (413 beyond) nested at most
:data:`MAX_DEPTH` deep, and hold only valid Unicode text (a lone surrogate is a 400 and
nothing is stored). Fields follow :mod:`wamanager._rules` (the client's own rules), and each
operation answers with the error the spec gives it:

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

A body that cannot be read as a JSON object is 400 ``#invalid-json`` everywhere;
``invalid_parameters`` names each bad field.

The control API, under ``/_sandbox`` (moto's ``/moto-api`` is the model), lets tests in any
language drive a running sandbox: ``POST /_sandbox/reset``, ``GET /_sandbox/clock``,
``POST /_sandbox/clock/advance`` (``{"seconds": N}``, manual clock only),
``GET``/``PUT /_sandbox/scenarios``, ``GET``/``PUT /_sandbox/faults`` (the
:class:`~wamanager.sandbox.FaultConfig` in force, e.g. to end an injected outage),
``GET``/``DELETE /_sandbox/stats``. They need no credentials. The OTP inbox,
``GET /_sandbox/deployments/{id}/otp``, takes the account's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from aiohttp import web

from .. import _rules as rules
from ._auth import Authenticator
from ._clock import ManualClock, ScaledClock
from ._config import Account, FaultConfig, SandboxConfig, Scenario
from ._engine import FIRST_PARTY_PACKS, SandboxEngine
from ._faults import Fault, FaultInjector, RateLimiter
from ._problems import (
    GENERIC,
    PROVISIONING,
    SandboxProblem,
    dumps,
    invalid_json,
    not_found,
    payload_too_large,
    problem_response,
    throttled,
)

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "ENGINE",
    "INBOX_PREFIX",
    "MAX_DEPTH",
    "create_app",
    "reset_app",
]

#: Where the API lives, as on ``api.nexmo.com``.
API_PREFIX = "/v0.1/whatsapp-manager"
#: The sandbox's own endpoints: control API and OTP inbox; never rate limited nor faulted.
CONTROL_PREFIX = "/_sandbox"
#: The former name of :data:`CONTROL_PREFIX`.
INBOX_PREFIX = CONTROL_PREFIX
#: JSON nested deeper than this is refused (this API's bodies are two levels deep).
MAX_DEPTH = 16
#: The ``meta`` object WhatsApp's sticker endpoints add to their answers (the sticker guide's).
STICKER_META = {"version": "v2.37.1", "api_status": "stable"}

#: The application's :class:`SandboxEngine`.
ENGINE = web.AppKey("wamanager_sandbox_engine", SandboxEngine)
_AUTH = web.AppKey("wamanager_sandbox_auth", Authenticator)
_LIMITER = web.AppKey("wamanager_sandbox_limiter", RateLimiter)
_FAULTS = web.AppKey("wamanager_sandbox_faults", FaultInjector)
_OPERATIONS: web.AppKey[dict[tuple[str, str], str]] = web.AppKey("wamanager_sandbox_operations")
# aiohttp 3.13+ wants typed request keys; older versions take a plain string.
_ACCOUNT: Any = (
    web.RequestKey("wamanager_sandbox_account", Account)  # type: ignore[attr-defined,unused-ignore]
    if hasattr(web, "RequestKey")
    else "wamanager_sandbox_account"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Params = list[tuple[str, str]]

logger = logging.getLogger("wamanager.sandbox")

_JSON_REQUIRED = "Send a JSON request body, including a Content-Type header of application/json"


# --- helpers ---------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(data), content_type="application/json")


def _sticker_json(data: dict[str, Any]) -> web.Response:
    return _json({**data, "meta": STICKER_META})


def _account(request: web.Request) -> Account:
    account: Account = request[_ACCOUNT]
    return account


def _too_deep(raw: bytes) -> bool:
    """Whether the JSON text nests arrays/objects deeper than :data:`MAX_DEPTH`."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False  # the common case, answered at C speed
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def _surrogates(value: Any, path: str) -> Params:
    """Every place in a decoded body (keys and strings) that holds a lone surrogate."""
    found: Params = []
    if isinstance(value, str):
        if rules.find_lone_surrogate(value):
            found.append((path or "body", rules.LONE_SURROGATE_REASON))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _surrogates(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else key
            if rules.find_lone_surrogate(key):
                found.append((path or "body", "has a key with a lone surrogate (invalid Unicode)"))
            else:
                found += _surrogates(item, name)
    return found


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def _body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 4xx problem: never a 500, whatever was sent."""
    if request.content_type != "application/json":
        sent = request.headers.get("Content-Type", "none")
        raise invalid_json(f"{_JSON_REQUIRED} (got {sent!r}).")
    raw = await request.read()  # over client_max_size: HTTPRequestEntityTooLarge, a 413
    if not raw.strip():
        raise invalid_json(f"The request body is empty. {_JSON_REQUIRED}.")
    if _too_deep(raw):
        raise invalid_json(f"The request body is nested deeper than {MAX_DEPTH} levels.")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise invalid_json(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid_json(f"The request body must be a JSON object, not {type(data).__name__}.")
    bad = _surrogates(data, "")
    if bad:
        raise invalid_json("The request body holds text that is not valid Unicode.", bad)
    return data


def _raise_if(found: Params, status: int, fragment: str, title: str) -> None:
    if found:
        detail = "; ".join(
            f"Request was missing a {field}" if reason == "is required" else f"{field} {reason}"
            for field, reason in found
        )
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
    _raise_if(rules.deployment_problems(body), 422, "unprocessable", "Unprocessable Entity")
    dep = request.app[ENGINE].create(
        account.api_key,
        country_code=body["country_code"],
        number=body["number"],
        waba_id=body["waba_id"],
        method=body["method"],
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
    _raise_if(rules.resend_problems(body), 400, "invalid-json", "Bad Request")
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    method = body.get("method") or engine.find(account.api_key, dep_id).method
    dep = engine.resend(account.api_key, dep_id, method)
    return _json(
        {"message": "Code sent", "vname": f"Sandbox {dep.msisdn}", "method": dep.method}, 202
    )


async def verify(request: web.Request) -> web.Response:
    """``POST /deployments/{id}/verify``: 201 ``{deployment_id, status}``."""
    account = _account(request)
    body = await _body(request)
    _raise_if(rules.verify_problems(body), 422, "verification-failed", "Verification Failed")
    dep = request.app[ENGINE].verify(
        account.api_key, request.match_info["deployment_id"], body["code"]
    )
    return _json({"deployment_id": dep.deployment_id, "status": "Code verified"}, 201)


# --- profile ---------------------------------------------------------------------------

_PROFILE_FIELDS = (*rules.PROFILE_LIMITS, "vertical", "websites")


async def get_profile(request: web.Request) -> web.Response:
    """``GET /deployments/{id}/profile``: 200 profile."""
    dep = request.app[ENGINE].find_ready(
        _account(request).api_key, request.match_info["deployment_id"]
    )
    return _json(dep.profile)


async def update_profile(request: web.Request) -> web.Response:
    """``PATCH /deployments/{id}/profile``: 200 with the whole updated profile."""
    account = _account(request)
    body = await _body(request)
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    engine.find_ready(account.api_key, dep_id)
    found = rules.profile_problems(body)
    _raise_if(found, 422, "unprocessable-profile-update", "Unprocessable Entity")
    changes = {field: body[field] for field in _PROFILE_FIELDS if field in body}
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
    _raise_if(rules.photo_problems(body), 422, "unprocessable", "Unprocessable Entity")
    dep.photo_url = body["image_url"]
    return _json({"image_url": dep.photo_url})


# --- sticker packs and stickers --------------------------------------------------------

_PACK_FIELDS = ("name", "publisher", "android_app_store_link", "ios_app_store_link")


async def list_stickerpacks(request: web.Request) -> web.Response:
    """``GET .../stickerpacks`` (``?namespace=whatsapp``: WhatsApp's own packs)."""
    dep = request.app[ENGINE].find_ready(
        _account(request).api_key, request.match_info["deployment_id"]
    )
    packs = FIRST_PARTY_PACKS if _namespace(request) == "whatsapp" else dep.packs
    return _sticker_json({"stickerpacks": [{"id": pack_id} for pack_id in packs]})


async def create_stickerpack(request: web.Request) -> web.Response:
    """``POST .../stickerpacks``: 200 ``{stickerpacks: [{id}]}``."""
    account = _account(request)
    body = await _body(request)
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    engine.find_ready(account.api_key, dep_id)
    _raise_if(rules.stickerpack_problems(body), 400, "invalid-json", "Bad Request")
    details = {field: body[field] for field in _PACK_FIELDS if field in body}
    pack_id = engine.create_pack(account.api_key, dep_id, details)
    return _sticker_json({"stickerpacks": [{"id": pack_id}]})


async def get_stickerpack(request: web.Request) -> web.Response:
    """``GET .../stickerpacks/{pack}``: 200 ``{stickerpacks: [{name, publisher, ...}]}``."""
    pack = request.app[ENGINE].pack(
        _account(request).api_key,
        request.match_info["deployment_id"],
        request.match_info["stickerpack_id"],
        _namespace(request),
    )
    return _sticker_json({"stickerpacks": [pack["details"]]})


async def list_stickers(request: web.Request) -> web.Response:
    """``GET .../stickers``: 200 ``{stickers: [{index}]}``."""
    pack = request.app[ENGINE].pack(
        _account(request).api_key,
        request.match_info["deployment_id"],
        request.match_info["stickerpack_id"],
        _namespace(request),
    )
    return _sticker_json({"stickers": [{"index": index} for index in pack["stickers"]]})


async def create_sticker(request: web.Request) -> web.Response:
    """``POST .../stickers``: 200 ``{stickers: [{index}]}``."""
    account = _account(request)
    body = await _body(request)
    engine = request.app[ENGINE]
    dep_id = request.match_info["deployment_id"]
    pack_id = request.match_info["stickerpack_id"]
    engine.pack(account.api_key, dep_id, pack_id, None)
    _raise_if(rules.sticker_problems(body), 400, "invalid-json", "Bad Request")
    sticker = {"image_data_id": body["image_data_id"], "emojis": list(body.get("emojis", []))}
    index = engine.add_sticker(account.api_key, dep_id, pack_id, sticker)
    return _sticker_json({"stickers": [{"index": index}]})


async def _one_sticker(request: web.Request, *, remove: bool) -> web.Response:
    sticker = request.app[ENGINE].sticker(
        _account(request).api_key,
        request.match_info["deployment_id"],
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


# --- the sandbox's own endpoints -------------------------------------------------------


async def inbox(request: web.Request) -> web.Response:
    """``GET /_sandbox/deployments/{id}/otp``: the last delivered code, or 404."""
    message = request.app[ENGINE].inbox(
        _account(request).api_key, request.match_info["deployment_id"]
    )
    if message is None:
        raise not_found("No code has been delivered to this deployment's number.")
    return _json(message.to_json())


def reset_app(app: web.Application) -> None:
    """Forget every deployment, registration, counter, verified token and rate bucket."""
    app[ENGINE].reset()
    app[_AUTH].clear()
    if _LIMITER in app:
        app[_LIMITER].reset()


async def reset(request: web.Request) -> web.Response:
    """``POST /_sandbox/reset``: see :func:`reset_app`."""
    reset_app(request.app)
    return web.Response(status=204)


def _clock_json(app: web.Application) -> dict[str, Any]:
    clock = app[ENGINE].clock
    return {"now": clock.now(), "speed": clock.speed, "manual": isinstance(clock, ManualClock)}


async def get_clock(request: web.Request) -> web.Response:
    """``GET /_sandbox/clock``: ``{now, speed, manual}`` (sandbox seconds)."""
    return _json(_clock_json(request.app))


async def advance_clock(request: web.Request) -> web.Response:
    """``POST /_sandbox/clock/advance`` ``{"seconds": N}``: move a manual clock forward."""
    body = await _body(request)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise invalid_json("seconds must be a number >= 0", [("seconds", "must be >= 0")])
    clock = request.app[ENGINE].clock
    if not isinstance(clock, ManualClock):
        raise SandboxProblem(
            409,
            f"{GENERIC}#conflict",
            "Conflict",
            "This sandbox's clock runs on its own (speed); start it with a manual clock "
            "(SandboxConfig(clock=ManualClock())) to move time by hand.",
        )
    clock.advance(float(seconds))
    return _json(_clock_json(request.app))


async def get_scenarios(request: web.Request) -> web.Response:
    """``GET /_sandbox/scenarios``: the rules in force, first match wins."""
    return _json([rule.to_json() for rule in request.app[ENGINE].scenarios])


async def put_scenarios(request: web.Request) -> web.Response:
    """``PUT /_sandbox/scenarios`` ``{"scenarios": [...]}``: replace the rules in force.

    They apply to deployments created from now on.
    """
    body = await _body(request)
    items = body.get("scenarios")
    if not isinstance(items, list):
        raise invalid_json('Send {"scenarios": [...]}.', [("scenarios", "must be an array")])
    parsed: list[Scenario] = []
    found: Params = []
    for i, item in enumerate(items):
        try:
            parsed.append(Scenario.from_json(item))
        except ValueError as exc:
            found.append((f"scenarios[{i}]", str(exc)))
    if found:
        raise invalid_json("Invalid scenario rules.", found)
    request.app[ENGINE].scenarios = parsed
    return await get_scenarios(request)


async def get_faults(request: web.Request) -> web.Response:
    """``GET /_sandbox/faults``: the fault injection in force."""
    return _json(attrs.asdict(request.app[_FAULTS].config))


def set_faults(app: web.Application, faults: FaultConfig) -> None:
    """Inject ``faults`` from now on (draws keep coming from the seeded generator)."""
    app[_FAULTS].config = faults


async def put_faults(request: web.Request) -> web.Response:
    """``PUT /_sandbox/faults`` with :class:`~wamanager.sandbox.FaultConfig`'s fields (any left
    out take their defaults, so ``{}`` turns every fault off): the faults from now on."""
    body = await _body(request)
    try:
        config = FaultConfig(**body)
    except (TypeError, ValueError) as exc:
        raise invalid_json("Invalid fault settings.", [("faults", str(exc))]) from None
    set_faults(request.app, config)
    return await get_faults(request)


async def get_stats(request: web.Request) -> web.Response:
    """``GET /_sandbox/stats``: see :class:`~wamanager.sandbox.SandboxStats`."""
    return _json(request.app[ENGINE].stats.to_json())


async def delete_stats(request: web.Request) -> web.Response:
    """``DELETE /_sandbox/stats``: zero the counters."""
    request.app[ENGINE].stats.reset()
    return web.Response(status=204)


# --- middlewares -----------------------------------------------------------------------


def _is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _operation(request: web.Request) -> str | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    operation: str | None = request.app[_OPERATIONS].get((route.method, resource.canonical))
    if operation == "getStickerpacks" and _namespace(request) == "whatsapp":
        return "getWhatsappStickerpacks"
    return operation


@web.middleware
async def _stats(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    operation = _operation(request) if _is_api(request) else None
    if operation is not None:
        body = response.body if isinstance(response, web.Response) else None
        size = len(body) if isinstance(body, (bytes, bytearray)) else 0
        request.app[ENGINE].stats.record(operation, size)
    return response


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
    except web.HTTPRequestEntityTooLarge:
        return problem_response(payload_too_large(request.app[ENGINE].config.max_body_size))
    except (ConnectionResetError, asyncio.CancelledError) as exc:
        # The client went away (closed the connection, or cancelled its request): nobody
        # will read an answer, and it is not the sandbox's failure.
        logger.debug("%s %s: client went away (%s)", request.method, request.path, exc)
        if isinstance(exc, asyncio.CancelledError):
            raise
        return web.Response(status=499)


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
    injector = request.app[_FAULTS]
    if not injector.config.active or not _is_api(request):
        return await handler(request)
    decision = injector.decide()
    stats = request.app[ENGINE].stats
    if decision.latency > 0:
        await asyncio.sleep(decision.latency)
    if decision.fault is Fault.DROP:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # Nothing can be written to an aborted transport; aiohttp discards this answer.
        return web.Response(status=500)
    if decision.fault in (Fault.ERROR_500, Fault.ERROR_503):
        stats.injected_5xx += 1
        return problem_response(_server_error(decision.fault))
    if decision.fault is Fault.THROTTLE:
        stats.injected_429 += 1
        return problem_response(
            throttled(
                injector.config.throttle_retry_after,
                "Too many requests (injected by the sandbox); wait and try again.",
            )
        )
    response = await handler(request)
    if decision.fault is Fault.MALFORMED and isinstance(response, web.Response):
        body = response.body if isinstance(response.body, bytes) else b""
        truncated = body[: len(body) // 2] if len(body) > 1 else b'{"deployment'
        status = response.status if response.status != 204 else 200
        return web.Response(status=status, body=truncated, content_type="application/json")
    return response


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_api(request) or request.path.startswith(f"{CONTROL_PREFIX}/deployments/"):
        account = request.app[_AUTH].authenticate(request.headers.get("Authorization"))
        request[_ACCOUNT] = account
        limiter = request.app.get(_LIMITER)
        if limiter is not None and _is_api(request):
            wait = limiter.acquire(account.api_key)
            if wait is not None:
                request.app[ENGINE].stats.rate_limited += 1
                raise throttled(wait, "Exceeded rate limit for this API, please wait and try again")
    return await handler(request)


# --- the application -------------------------------------------------------------------

#: (method, path under API_PREFIX, handler, the spec's operationId)
_ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("POST", "/deployments", create_deployment, "createDeployment"),
    ("GET", "/deployments", list_deployments, "listDeployments"),
    ("GET", "/deployments/{deployment_id}", get_deployment, "get_deployment"),
    ("DELETE", "/deployments/{deployment_id}", delete_deployment, "deleteDeployment"),
    ("POST", "/deployments/{deployment_id}/resend-otp", resend_otp, "resend-otp"),
    ("POST", "/deployments/{deployment_id}/verify", verify, "verify"),
    ("GET", "/deployments/{deployment_id}/profile", get_profile, "getProfileInfo"),
    ("PATCH", "/deployments/{deployment_id}/profile", update_profile, "updateProfile"),
    ("GET", "/deployments/{deployment_id}/profile/photo", get_photo, "getProfilePhoto"),
    ("POST", "/deployments/{deployment_id}/profile/photo", update_photo, "updateProfilePhoto"),
    ("GET", "/deployments/{deployment_id}/stickerpacks", list_stickerpacks, "getStickerpacks"),
    (
        "POST",
        "/deployments/{deployment_id}/stickerpacks",
        create_stickerpack,
        "createStickerpacks",
    ),
    (
        "GET",
        "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}",
        get_stickerpack,
        "getStickerpacksById",
    ),
    (
        "GET",
        "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers",
        list_stickers,
        "getStickers",
    ),
    (
        "POST",
        "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers",
        create_sticker,
        "createStickers",
    ),
    (
        "GET",
        "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers/{sticker_index}",
        get_sticker,
        "getStickerByIndex",
    ),
    (
        "DELETE",
        "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers/{sticker_index}",
        delete_sticker,
        "deleteStickerByIndex",
    ),
)

_CONTROL_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/deployments/{deployment_id}/otp", inbox),
    ("POST", "/reset", reset),
    ("GET", "/clock", get_clock),
    ("POST", "/clock/advance", advance_clock),
    ("GET", "/scenarios", get_scenarios),
    ("PUT", "/scenarios", put_scenarios),
    ("GET", "/faults", get_faults),
    ("PUT", "/faults", put_faults),
    ("GET", "/stats", get_stats),
    ("DELETE", "/stats", delete_stats),
)


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """The sandbox as an :class:`aiohttp.web.Application` (serve it, or test it in-process).

    Every spec operation and ``GET /deployments`` is under :data:`API_PREFIX`; the control
    API and OTP inbox under :data:`CONTROL_PREFIX`. The engine is ``app[ENGINE]``.
    """
    config = config or SandboxConfig()
    clock = config.clock or ScaledClock(config.speed)
    app = web.Application(
        middlewares=[_stats, _problems, _faults, _auth], client_max_size=config.max_body_size
    )
    app[ENGINE] = SandboxEngine(config, clock)
    app[_AUTH] = Authenticator(config)
    if config.rate_limit is not None:
        app[_LIMITER] = RateLimiter(config.rate_limit, config.rate_burst, clock)
    app[_FAULTS] = FaultInjector(config.faults, config.seed)
    app[_OPERATIONS] = {}
    for method, path, handler, operation in _ROUTES:
        _add(app, method, API_PREFIX + path, handler)
        app[_OPERATIONS][(method, API_PREFIX + path)] = operation
    for method, path, handler in _CONTROL_ROUTES:
        _add(app, method, CONTROL_PREFIX + path, handler)
    return app


def _add(app: web.Application, method: str, path: str, handler: Handler) -> None:
    if method == "GET":
        app.router.add_get(path, handler)  # and HEAD, as any aiohttp GET
    else:
        app.router.add_route(method, path, handler)
