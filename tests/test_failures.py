"""What a failed attempt means: transport failures classified, redirects refused, refused
and dropped connections, and errors that carry no internal context."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import wamanager
from wamanager import (
    ConnectionFailed,
    RequestTimeout,
    TransportError,
    UnexpectedResponse,
    WhatsAppManager,
)
from wamanager._failures import classify, transport_error
from wamanager._retry import Failure
from wamanager.testing import FakeAPI, SleepRecorder

from ._support import DEP, refused_url


async def test_connection_refused_raises_connection_failed(
    make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """Nothing listening raises ConnectionFailed (a ConnectionError) after the retries."""
    client = make_client(base_url=refused_url(), max_retries=1)
    with pytest.raises(ConnectionError) as caught:
        await client.deployments.get(DEP)
    assert isinstance(caught.value, ConnectionFailed)
    assert f"GET /deployments/{DEP} failed" in str(caught.value)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert sleeps.delays == [0.5]


async def test_dropped_connection_raises_connection_failed(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A connection dropped before the answer raises ConnectionFailed.

    aiohttp itself resends an idempotent request once when a connection drops (RFC 9112),
    below wamanager's retries, so two drops are queued.
    """
    api.drop()
    api.drop()
    with pytest.raises(ConnectionFailed):
        await make_client(max_retries=0).deployments.get(DEP)


@pytest.mark.parametrize(
    ("exc", "failure", "error_cls"),
    [
        (aiohttp.ConnectionTimeoutError(), Failure.CONNECT, RequestTimeout),
        (aiohttp.ServerTimeoutError(), Failure.TIMEOUT, RequestTimeout),
        (asyncio.TimeoutError(), Failure.TIMEOUT, RequestTimeout),
        (aiohttp.ServerDisconnectedError(), Failure.DISCONNECTED, ConnectionFailed),
        (aiohttp.ClientPayloadError("cut"), Failure.DISCONNECTED, ConnectionFailed),
        (aiohttp.ClientOSError(104, "reset"), Failure.DISCONNECTED, ConnectionFailed),
        (ssl.SSLError("bad cert"), None, ConnectionFailed),
    ],
)
def test_transport_failures_are_classified(
    exc: BaseException, failure: Failure | None, error_cls: type[TransportError]
) -> None:
    """Each aiohttp failure gets its retry class and its exception (a timeout is a timeout)."""
    got = classify(exc)
    assert got is failure
    assert type(transport_error(exc, got, "GET", "/x", 1.0)) is error_cls


async def test_connect_timeout_retries_even_verify(
    api: FakeAPI,
    client: WhatsAppManager,
    sleeps: SleepRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A verify that timed out while connecting (never sent) is retried and succeeds."""
    original = aiohttp.ClientSession.request
    failures = [aiohttp.ConnectionTimeoutError("connect timed out")]

    def flaky(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "request", flaky)
    api.reply(201, {"deployment_id": DEP, "status": "Deployment was Created"})
    result = await client.otp.verify(DEP, "123456")
    assert result.deployment_id == DEP
    assert len(api.requests) == 1
    assert sleeps.delays == [0.5]


async def test_unexpected_exception_is_not_reported_as_a_connection_failure(
    client: WhatsAppManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-network exception inside the request propagates as is, not as ConnectionFailed."""

    def broken(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(aiohttp.ClientSession, "request", broken)
    with pytest.raises(KeyError):
        await client.deployments.get(DEP)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_never_followed(
    status: int, api: FakeAPI, client: WhatsAppManager, sleeps: SleepRecorder
) -> None:
    """A 3xx raises UnexpectedResponse naming its Location; the body goes nowhere else."""
    elsewhere = api.base_url + "/elsewhere"
    api.reply(status, headers={"Location": elsewhere})
    with pytest.raises(UnexpectedResponse) as caught:
        await client.otp.verify(DEP, "123456")
    assert caught.value.status == status
    assert elsewhere in str(caught.value)
    assert "never follows redirects" in str(caught.value)
    assert len(api.requests) == 1  # neither followed nor retried
    assert sleeps.delays == []


async def test_redirect_of_a_get_is_not_followed_either(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """A GET answered 302 raises, rather than returning the other location's 200."""
    api.reply(302, headers={"Location": "https://evil.example/steal"})
    api.reply(200, {"deployment_id": DEP})
    with pytest.raises(UnexpectedResponse, match=r"evil\.example"):
        await client.deployments.get(DEP)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (404, {}, wamanager.NotFound),
        (409, {}, wamanager.Conflict),
        (307, {"Location": "https://elsewhere.example/x"}, UnexpectedResponse),
    ],
)
async def test_errors_carry_no_internal_context(
    status: int,
    headers: dict[str, str],
    error: type[Exception],
    api: FakeAPI,
    client: WhatsAppManager,
) -> None:
    """An error raised for an answer chains no internal exception (clean tracebacks)."""
    api.reply(status, {"title": "x"}, headers=headers)
    with pytest.raises(error) as caught:
        await client.deployments.get(DEP)
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
