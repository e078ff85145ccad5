"""What wraps every request, outermost first: stats, problem answers, faults, auth and the
per-account rate limit.

The order matters: the stats count every API answer, injected faults and 401/429s
included; every problem raised inside (by a handler, the engine, auth or the rate limit)
becomes its answer before the stats see it; faults and the rate limit apply to the API
paths only, never to ``/_sandbox``; the OTP inbox under ``/_sandbox`` takes credentials too.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ._app_keys import ACCOUNT, AUTH, ENGINE, FAULTS, OPERATIONS, RATE_LIMIT
from ._config import API_PREFIX, CONTROL_PREFIX
from ._faults import Fault
from ._problems import (
    GENERIC,
    SandboxProblem,
    injected_server_error,
    not_found,
    payload_too_large,
    problem_response,
    throttled,
)

__all__ = ["MIDDLEWARES"]

logger = logging.getLogger("wamanager.sandbox")


def _is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _operation(request: web.Request) -> str | None:
    """The spec's operationId of the route ``request`` matched (``None``: no API route)."""
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    operation: str | None = request.app[OPERATIONS].get((route.method, resource.canonical))
    if operation == "getStickerpacks" and request.query.get("namespace") == "whatsapp":
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


@web.middleware
async def _faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    injector = request.app[FAULTS]
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
        status = 503 if decision.fault is Fault.ERROR_503 else 500
        return problem_response(injected_server_error(status))
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
        account = request.app[AUTH].authenticate(request.headers.get("Authorization"))
        request[ACCOUNT] = account
        buckets = request.app.get(RATE_LIMIT)
        if buckets is not None and _is_api(request):
            wait = buckets.take(account.api_key)
            if wait is not None:
                request.app[ENGINE].stats.rate_limited += 1
                raise throttled(wait, "Exceeded rate limit for this API, please wait and try again")
    return await handler(request)


#: The application's middlewares, outermost first.
MIDDLEWARES = (_stats, _problems, _faults, _auth)
