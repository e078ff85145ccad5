"""The control API under ``/_sandbox`` (moto's ``/moto-api``), and its in-process twins.

It lets tests in any language drive a running sandbox: ``POST /_sandbox/reset``,
``GET /_sandbox/clock``, ``POST /_sandbox/clock/advance`` (``{"seconds": N}``, manual clock
only), ``GET``/``PUT /_sandbox/scenarios``, ``GET``/``PUT /_sandbox/faults`` (the
:class:`~wamanager.sandbox.FaultConfig` in force, e.g. to end an injected outage),
``GET``/``DELETE /_sandbox/stats``. They need no credentials. The OTP inbox,
``GET /_sandbox/deployments/{id}/otp``, takes the account's. :func:`reset_app` and
:func:`set_faults` are what the handle calls in-process.
"""

from __future__ import annotations

from typing import Any

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler

from ._app_keys import AUTH, ENGINE, FAULTS, RATE_LIMIT, account_of
from ._clock import ManualClock
from ._config import FaultConfig, Scenario
from ._problems import GENERIC, SandboxProblem, invalid_json, json_response, not_found
from ._request_body import read_body

__all__ = ["CONTROL_ROUTES", "reset_app", "set_faults"]


def reset_app(app: web.Application) -> None:
    """Forget every deployment, registration, counter, verified token and rate bucket."""
    app[ENGINE].reset()
    app[AUTH].clear()
    if RATE_LIMIT in app:
        app[RATE_LIMIT].reset()


def set_faults(app: web.Application, faults: FaultConfig) -> None:
    """Inject ``faults`` from now on (draws keep coming from the seeded generator)."""
    app[FAULTS].config = faults


async def inbox(request: web.Request) -> web.Response:
    """``GET /_sandbox/deployments/{id}/otp``: the last delivered code, or 404."""
    message = request.app[ENGINE].inbox(
        account_of(request).api_key, request.match_info["deployment_id"]
    )
    if message is None:
        raise not_found("No code has been delivered to this deployment's number.")
    return json_response(message.to_json())


async def reset(request: web.Request) -> web.Response:
    """``POST /_sandbox/reset``: see :func:`reset_app`."""
    reset_app(request.app)
    return web.Response(status=204)


def _clock_json(app: web.Application) -> dict[str, Any]:
    clock = app[ENGINE].clock
    return {"now": clock.now(), "speed": clock.speed, "manual": isinstance(clock, ManualClock)}


async def get_clock(request: web.Request) -> web.Response:
    """``GET /_sandbox/clock``: ``{now, speed, manual}`` (sandbox seconds)."""
    return json_response(_clock_json(request.app))


async def advance_clock(request: web.Request) -> web.Response:
    """``POST /_sandbox/clock/advance`` ``{"seconds": N}``: move a manual clock forward."""
    body = await read_body(request)
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
    return json_response(_clock_json(request.app))


async def get_scenarios(request: web.Request) -> web.Response:
    """``GET /_sandbox/scenarios``: the rules in force, first match wins."""
    return json_response([rule.to_json() for rule in request.app[ENGINE].scenarios])


async def put_scenarios(request: web.Request) -> web.Response:
    """``PUT /_sandbox/scenarios`` ``{"scenarios": [...]}``: replace the rules in force.

    They apply to deployments created from now on.
    """
    body = await read_body(request)
    items = body.get("scenarios")
    if not isinstance(items, list):
        raise invalid_json('Send {"scenarios": [...]}.', [("scenarios", "must be an array")])
    parsed: list[Scenario] = []
    found: list[tuple[str, str]] = []
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
    return json_response(attrs.asdict(request.app[FAULTS].config))


async def put_faults(request: web.Request) -> web.Response:
    """``PUT /_sandbox/faults`` with :class:`~wamanager.sandbox.FaultConfig`'s fields (any left
    out take their defaults, so ``{}`` turns every fault off): the faults from now on."""
    body = await read_body(request)
    try:
        config = FaultConfig(**body)
    except (TypeError, ValueError) as exc:
        raise invalid_json("Invalid fault settings.", [("faults", str(exc))]) from None
    set_faults(request.app, config)
    return await get_faults(request)


async def get_stats(request: web.Request) -> web.Response:
    """``GET /_sandbox/stats``: see :class:`~wamanager.sandbox.SandboxStats`."""
    return json_response(request.app[ENGINE].stats.to_json())


async def delete_stats(request: web.Request) -> web.Response:
    """``DELETE /_sandbox/stats``: zero the counters."""
    request.app[ENGINE].stats.reset()
    return web.Response(status=204)


#: (method, path under CONTROL_PREFIX, handler)
CONTROL_ROUTES: tuple[tuple[str, str, Handler], ...] = (
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
