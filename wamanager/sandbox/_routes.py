"""The application: every API route with its spec operationId, and :func:`create_app`
(moto's ``urls.py``).

Every spec operation and ``GET /deployments`` is served under :data:`API_PREFIX`, the
control API and OTP inbox (:mod:`._control`) under :data:`CONTROL_PREFIX`.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from . import _handlers as api
from ._app_keys import AUTH, ENGINE, FAULTS, OPERATIONS, RATE_LIMIT
from ._auth import Authenticator
from ._clock import ScaledClock
from ._config import API_PREFIX, CONTROL_PREFIX, SandboxConfig
from ._control import CONTROL_ROUTES
from ._engine import SandboxEngine
from ._faults import FaultInjector
from ._middleware import MIDDLEWARES
from ._rate_limit import TokenBuckets

__all__ = ["API_ROUTES", "create_app"]

_DEPLOYMENT = "/deployments/{deployment_id}"
_PACKS = f"{_DEPLOYMENT}/stickerpacks"
_PACK = f"{_PACKS}/{{stickerpack_id}}"
_STICKERS = f"{_PACK}/stickers"
_STICKER = f"{_STICKERS}/{{sticker_index}}"

#: (method, path under API_PREFIX, handler, the spec's operationId)
API_ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("POST", "/deployments", api.create_deployment, "createDeployment"),
    ("GET", "/deployments", api.list_deployments, "listDeployments"),
    ("GET", _DEPLOYMENT, api.get_deployment, "get_deployment"),
    ("DELETE", _DEPLOYMENT, api.delete_deployment, "deleteDeployment"),
    ("POST", f"{_DEPLOYMENT}/resend-otp", api.resend_otp, "resend-otp"),
    ("POST", f"{_DEPLOYMENT}/verify", api.verify, "verify"),
    ("GET", f"{_DEPLOYMENT}/profile", api.get_profile, "getProfileInfo"),
    ("PATCH", f"{_DEPLOYMENT}/profile", api.update_profile, "updateProfile"),
    ("GET", f"{_DEPLOYMENT}/profile/photo", api.get_photo, "getProfilePhoto"),
    ("POST", f"{_DEPLOYMENT}/profile/photo", api.update_photo, "updateProfilePhoto"),
    ("GET", _PACKS, api.list_stickerpacks, "getStickerpacks"),
    ("POST", _PACKS, api.create_stickerpack, "createStickerpacks"),
    ("GET", _PACK, api.get_stickerpack, "getStickerpacksById"),
    ("GET", _STICKERS, api.list_stickers, "getStickers"),
    ("POST", _STICKERS, api.create_sticker, "createStickers"),
    ("GET", _STICKER, api.get_sticker, "getStickerByIndex"),
    ("DELETE", _STICKER, api.delete_sticker, "deleteStickerByIndex"),
)


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """The sandbox as an :class:`aiohttp.web.Application` (serve it, or test it in-process).

    Every spec operation and ``GET /deployments`` is under :data:`API_PREFIX`; the control
    API and OTP inbox under :data:`CONTROL_PREFIX`. The engine is ``app[ENGINE]``.
    """
    config = config or SandboxConfig()
    clock = config.clock or ScaledClock(config.speed)
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=config.max_body_size)
    app[ENGINE] = SandboxEngine(config, clock)
    app[AUTH] = Authenticator(config)
    if config.rate_limit is not None:
        app[RATE_LIMIT] = TokenBuckets(config.rate_limit, config.rate_burst, clock)
    app[FAULTS] = FaultInjector(config.faults, config.seed)
    app[OPERATIONS] = {}
    for method, path, handler, operation in API_ROUTES:
        _add(app, method, API_PREFIX + path, handler)
        app[OPERATIONS][(method, API_PREFIX + path)] = operation
    for method, path, handler in CONTROL_ROUTES:
        _add(app, method, CONTROL_PREFIX + path, handler)
    return app


def _add(app: web.Application, method: str, path: str, handler: Handler) -> None:
    if method == "GET":
        app.router.add_get(path, handler)  # and HEAD, as any aiohttp GET
    else:
        app.router.add_route(method, path, handler)
