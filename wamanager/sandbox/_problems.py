"""Problem-details bodies in the spec's shapes, and the exception handlers raise for them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

__all__ = ["GENERIC", "PROVISIONING", "SandboxProblem", "problem_response"]

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


def problem_response(problem: SandboxProblem) -> web.Response:
    """The aiohttp response for ``problem``."""
    return web.Response(
        status=problem.status,
        text=json.dumps(problem.body(), ensure_ascii=False),
        content_type="application/json",
        headers=problem.headers,
    )


def not_found(
    detail: str = "Deployment does not exist or you do not have access.",
) -> SandboxProblem:
    """404 ``#not-found``."""
    return SandboxProblem(404, f"{GENERIC}#not-found", "Not Found", detail)


def unauthorized() -> SandboxProblem:
    """401 ``#unauthorized`` (the same answer whatever was wrong, as real APIs do)."""
    return SandboxProblem(
        401,
        f"{GENERIC}#unauthorized",
        "You did not provide correct credentials.",
        "Check that you're using the correct credentials, and that your account has this "
        "feature enabled",
        headers={"WWW-Authenticate": 'Basic realm="sandbox", Bearer'},
    )


def forbidden(detail: str) -> SandboxProblem:
    """403 ``#forbidden``."""
    return SandboxProblem(403, f"{GENERIC}#forbidden", "Forbidden", detail)


def invalid_json(detail: str) -> SandboxProblem:
    """400 ``#invalid-json``."""
    return SandboxProblem(400, f"{PROVISIONING}#invalid-json", "Invalid JSON", detail)


def throttled(retry_after: int, detail: str) -> SandboxProblem:
    """429 ``#throttled`` with ``Retry-After`` in whole real seconds."""
    return SandboxProblem(
        429,
        f"{PROVISIONING}#throttled",
        "Throttled",
        detail,
        headers={"Retry-After": str(retry_after)},
    )
