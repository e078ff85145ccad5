"""Whatever arrives, the sandbox answers a 4xx problem (never a 500), stores nothing it cannot
answer again, stays up, and keeps the account's list working."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import aiohttp
import pytest

from wamanager.sandbox import MAX_DEPTH, ManualClock, SandboxConfig, SandboxHandle

from ..sandbox.helpers import JSON, call, deployment_body, fragment, parameter_names

DOCUMENTED = "Send a JSON request body, including a Content-Type header of application/json"


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """A manual clock and no rate limit: these tests hammer one account."""
    return SandboxConfig(clock=ManualClock(), rate_limit=None)


async def still_serving(sandbox: SandboxHandle) -> list[object]:
    """The account's list (asserting it still answers 200)."""
    status, body, _ = await call(sandbox, "GET", "/deployments")
    assert status == 200, body
    assert isinstance(body, list)
    return body


@pytest.mark.parametrize(
    ("raw", "headers", "words"),
    [
        (b"[" * 5000 + b"]" * 5000, JSON, f"deeper than {MAX_DEPTH}"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, JSON, f"deeper than {MAX_DEPTH}"),
        (b"{not json", JSON, "not valid JSON"),
        (b"", JSON, "empty"),
        (b"   ", JSON, "empty"),
        (b"[]", JSON, "JSON object"),
        (b'"text"', JSON, "JSON object"),
        (b"null", JSON, "JSON object"),
        (b'{"about": NaN}', JSON, "NaN"),
        (b'{"n": Infinity}', JSON, "Infinity"),
        (b'{"a": "\xff\xfe"}', JSON, "not valid JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", JSON, "not valid JSON"),
        (b'{"country_code": "44"}', {"Content-Type": "text/plain"}, DOCUMENTED),
        (b'{"country_code": "44"}', {}, DOCUMENTED),
        (
            b'{"country_code": "44"}',
            {"Content-Type": "application/x-www-form-urlencoded"},
            DOCUMENTED,
        ),
    ],
    ids=[
        "deep-arrays",
        "deep-objects",
        "garbage",
        "empty",
        "blank",
        "array",
        "string",
        "null",
        "nan",
        "infinity",
        "bad-utf8",
        "huge-int",
        "text-plain",
        "no-content-type",
        "form",
    ],
)
async def test_malformed_bodies_are_400_invalid_json(
    sandbox: SandboxHandle, raw: bytes, headers: dict[str, str], words: str
) -> None:
    """Every body that is not a JSON object sent as application/json: 400 #invalid-json."""
    status, body, _ = await call(sandbox, "POST", "/deployments", raw=raw, headers=headers)
    assert (status, fragment(body)) == (400, "invalid-json")
    assert words in body["detail"]
    assert await still_serving(sandbox) == []


async def test_json_nested_up_to_the_limit_is_read(sandbox: SandboxHandle) -> None:
    """Nesting up to MAX_DEPTH is parsed (then judged by the field rules, here 422)."""
    nested = '{"x": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    status, body, _ = await call(sandbox, "POST", "/deployments", raw=nested, headers=JSON)
    assert (status, fragment(body)) == (422, "unprocessable")


async def test_an_oversized_body_is_413(sandbox: SandboxHandle) -> None:
    """A body over max_body_size answers a 413 problem, and the server goes on."""
    limit = sandbox.config.max_body_size
    big = {**deployment_body(), "padding": "x" * limit}
    status, body, _ = await call(sandbox, "POST", "/deployments", big)
    assert (status, fragment(body)) == (413, "payload-too-large")
    assert f"{limit} bytes" in body["detail"]
    assert await still_serving(sandbox) == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            b'{"country_code": "44", "number": "7700900000", "vname_certificate": "c", '
            b'"waba_id": "1\\ud800", "method": "sms"}',
            "waba_id",
        ),
        (
            b'{"country_code": "44", "number": "7700900000", "vname_certificate": "c", '
            b'"waba_id": "1", "method": "sms", "extra": ["ok", "\\udfff"]}',
            "extra[1]",
        ),
        (
            b'{"country_code": "44", "number": "7700900000", "vname_certificate": "c", '
            b'"waba_id": "1", "method": "sms", "\\ud800": 1}',
            "body",
        ),
    ],
    ids=["field", "unknown-field-item", "key"],
)
async def test_a_lone_surrogate_is_400_and_nothing_is_stored(
    sandbox: SandboxHandle, raw: bytes, field: str
) -> None:
    """A JSON-escaped lone surrogate anywhere: 400 naming where, no deployment stored, and
    the account's list keeps answering."""
    status, body, _ = await call(sandbox, "POST", "/deployments", raw=raw, headers=JSON)
    assert (status, fragment(body)) == (400, "invalid-json")
    assert parameter_names(body) == [field]
    assert len(sandbox.engine) == 0
    assert sandbox.stats().creates == {}
    assert await still_serving(sandbox) == []


async def test_a_surrogate_in_a_path_is_answered_not_crashed(sandbox: SandboxHandle) -> None:
    """An id whose percent-encoding is not UTF-8 is a 404 problem (JSON), not a 500."""
    status, body, _ = await call(sandbox, "GET", "/deployments/%ED%A0%80")
    assert (status, fragment(body)) == (404, "not-found")


async def test_unknown_paths_and_methods_are_problems(sandbox: SandboxHandle) -> None:
    """An unknown path is a 404 problem; a wrong method a 405 problem with Allow."""
    status, body, _ = await call(sandbox, "GET", "/nope")
    assert (status, fragment(body)) == (404, "not-found")
    status, body, headers = await call(sandbox, "PUT", "/deployments", deployment_body())
    assert (status, fragment(body)) == (405, "method-not-allowed")
    assert "POST" in headers["Allow"]


async def test_a_client_that_goes_away_is_logged_at_debug_at_most(
    sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that disconnects mid-body, or cancels its request, leaves no warning or
    error in the logs, and the server goes on."""
    caplog.set_level(logging.DEBUG)
    url = urlsplit(sandbox.base_url)
    for _ in range(3):  # a body announced but never finished
        _, writer = await asyncio.open_connection(url.hostname, url.port)
        writer.write(
            f"POST {url.path}/deployments HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {sandbox.authorization()}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
        )
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.close()
    async with aiohttp.ClientSession() as http:  # requests cancelled by the client
        tasks = [
            asyncio.ensure_future(
                http.post(
                    sandbox.base_url + "/deployments",
                    json=deployment_body(f"77009000{i:02d}"),
                    headers={"Authorization": sandbox.authorization()},
                )
            )
            for i in range(20)
        ]
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.05)  # let the server notice the closed connections
    await still_serving(sandbox)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
    assert any("client went away" in r.getMessage() for r in caplog.records)
