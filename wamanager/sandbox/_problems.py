"""The sandbox's answers: JSON bodies, and problem details in the spec's shapes.

Handlers and the engine raise a :class:`SandboxProblem` (made by the factories below: one per
kind of error answer); the problems middleware turns it into its response.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

__all__ = [
    "GENERIC",
    "PROVISIONING",
    "SandboxProblem",
    "dumps",
    "forbidden",
    "injected_server_error",
    "invalid_json",
    "json_response",
    "not_found",
    "payload_too_large",
    "problem_response",
    "throttled",
    "unauthorized",
]

#: Base of the error types that apply to every Vonage API (``#not-found``, ``#unauthorized``).
GENERIC = "https://developer.vonage.com/api-errors"
#: Base of this API's own error types (``#number-in-use``, ``#verification-failed``, ...).
PROVISIONING = "https://developer.vonage.com/api-errors/whatsapp-provisioning"


class SandboxProblem(Exception):
    """An error answer: status, problem ``type`` URL, title, detail, invalid parameters."""

    def __init__(
        self,
        status: int,
        type_url: str,
        title: str,
        detail: str,
        *,
        invalid_parameters: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.type_url = type_url
        self.title = title
        self.detail = detail
        self.invalid_parameters = tuple(invalid_parameters)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body: ``type``, ``title``, ``detail``, ``instance`` (+ parameters)."""
        data: dict[str, Any] = {
            "type": self.type_url,
            "title": self.title,
            "detail": self.detail,
            "instance": secrets.token_hex(16),
        }
        if self.invalid_parameters:
            data["invalid_parameters"] = [
                {"name": name, "reason": reason} for name, reason in self.invalid_parameters
            ]
        return data


def dumps(data: Any) -> bytes:
    """``data`` as UTF-8 JSON; text that UTF-8 cannot encode (a lone surrogate echoed from a
    path) is sent ``\\u``-escaped instead, so an answer is never a 500."""
    try:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data).encode("ascii")


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An ``application/json`` response of ``data`` (see :func:`dumps`)."""
    return web.Response(
        status=status, body=dumps(data), content_type="application/json", headers=headers
    )


def problem_response(problem: SandboxProblem) -> web.Response:
    """The aiohttp response for ``problem``."""
    return json_response(problem.body(), problem.status, problem.headers)


def not_found(
    detail: str = "Deployment does not exist or you do not have access.",
) -> SandboxProblem:
    """404 ``#not-found``."""
    return SandboxProblem(404, f"{GENERIC}#not-found", "Not Found", detail)


def unauthorized(detail: str | None = None, *, basic: bool = False) -> SandboxProblem:
    """401 ``#unauthorized``; ``detail`` says what was wrong (the sandbox is more talkative
    than the real API, which answers the generic text whatever the cause)."""
    challenge = 'Bearer realm="sandbox"' + (', Basic realm="sandbox"' if basic else "")
    return SandboxProblem(
        401,
        f"{GENERIC}#unauthorized",
        "You did not provide correct credentials.",
        detail
        or "Check that you're using the correct credentials, and that your account has this "
        "feature enabled",
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(detail: str) -> SandboxProblem:
    """403 ``#forbidden``."""
    return SandboxProblem(403, f"{GENERIC}#forbidden", "Forbidden", detail)


def invalid_json(detail: str, invalid_parameters: Sequence[tuple[str, str]] = ()) -> SandboxProblem:
    """400 ``#invalid-json``."""
    return SandboxProblem(
        400,
        f"{PROVISIONING}#invalid-json",
        "Invalid JSON",
        detail,
        invalid_parameters=invalid_parameters,
    )


def payload_too_large(limit: int) -> SandboxProblem:
    """413 ``#payload-too-large``: the request body is over the sandbox's limit."""
    return SandboxProblem(
        413,
        f"{GENERIC}#payload-too-large",
        "Payload Too Large",
        f"The request body is larger than {limit} bytes; this API's bodies are a few hundred.",
    )


def throttled(retry_after: int, detail: str) -> SandboxProblem:
    """429 ``#throttled`` with ``Retry-After`` in whole real seconds."""
    return SandboxProblem(
        429,
        f"{PROVISIONING}#throttled",
        "Throttled",
        detail,
        headers={"Retry-After": str(retry_after)},
    )


def injected_server_error(status: int) -> SandboxProblem:
    """503 ``#service-unavailable`` or 500 ``#internal-error``, injected by a fault."""
    if status == 503:
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
