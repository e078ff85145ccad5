"""Raw HTTP against a running sandbox, for tests that send what no client would, and two
accounts to tell apart."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from wamanager.sandbox import (
    Account,
    ManualClock,
    SandboxConfig,
    SandboxHandle,
    generate_application,
    mint_jwt,
)

JSON = {"Content-Type": "application/json"}


async def call(
    sandbox: SandboxHandle,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    authorization: str | None = "default",
    root: bool = False,
) -> tuple[int, Any, Mapping[str, str]]:
    """Send one request; returns (status, decoded JSON or None, headers).

    ``body`` is sent as JSON (with ``Content-Type: application/json``); ``raw`` as given.
    ``authorization="default"`` signs with the sandbox's application; ``None`` sends none.
    ``path`` is under the API root, or the server root with ``root=True``.
    """
    sent: dict[str, str] = {}
    if authorization == "default":
        sent["Authorization"] = sandbox.authorization()
    elif authorization is not None:
        sent["Authorization"] = authorization
    data: bytes | str | None = raw
    if body is not None:
        data = json.dumps(body)
        sent.update(JSON)
    sent.update(headers or {})
    url = (sandbox.root_url if root else sandbox.base_url) + path
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=sandbox.ssl_context())) as http,
        http.request(method, url, data=data, headers=sent) as response,
    ):
        text = await response.text()
        decoded = json.loads(text) if text else None
        return response.status, decoded, dict(response.headers)


def deployment_body(number: str = "7700900000", country_code: str = "44") -> dict[str, str]:
    """A valid ``POST /deployments`` body."""
    return {
        "country_code": country_code,
        "number": number,
        "vname_certificate": "cert",
        "waba_id": "123",
        "method": "sms",
    }


def fragment(problem: Mapping[str, Any]) -> str:
    """The ``#fragment`` of a problem's ``type``."""
    return str(problem["type"]).rpartition("#")[2]


def parameter_names(problem: Mapping[str, Any]) -> list[str]:
    """The names in a problem's ``invalid_parameters``."""
    return [p["name"] for p in problem.get("invalid_parameters", [])]


def two_accounts(**kwargs: object) -> tuple[SandboxConfig, str, str]:
    """Accounts a and b with an application each; their Bearer header values."""
    app_a, key_a = generate_application("app-a", api_key="a")
    app_b, key_b = generate_application("app-b", api_key="b")
    config = SandboxConfig(
        accounts=(Account("a", "sa"), Account("b", "sb")),
        applications=(app_a, app_b),
        clock=ManualClock(),
        **kwargs,  # type: ignore[arg-type]
    )
    bearer_a = f"Bearer {mint_jwt('app-a', key_a)}"
    bearer_b = f"Bearer {mint_jwt('app-b', key_b)}"
    return config, bearer_a, bearer_b
