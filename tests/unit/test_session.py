"""The session: headers, URLs, lifecycle, timeouts, transport errors, rate limit, logging."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import wamanager
from wamanager import (
    DEFAULT_BASE_URL,
    BasicAuth,
    ClientClosed,
    ConnectionFailed,
    RequestTimeout,
    ServerError,
    Throttled,
    Timeout,
    TransportError,
    ValidationError,
    WhatsAppManager,
)
from wamanager.retry import Failure
from wamanager.session import USER_AGENT, _classify, _transport_error

from ._support import (
    BASE_PATH,
    DEP,
    FakeAPI,
    SleepRecorder,
    load_spec,
    refused_url,
)

# --- headers and URLs --------------------------------------------------------------------


async def test_user_agent_names_the_library_and_version(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """Every request carries User-Agent wamanager/<version>."""
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    agent = api.requests[0].headers["User-Agent"]
    assert agent.startswith(f"wamanager/{wamanager.__version__} ")
    assert agent == USER_AGENT


async def test_user_agent_is_sent_through_a_user_session(
    api: FakeAPI, sleeps: SleepRecorder
) -> None:
    """A user-passed aiohttp session still sends wamanager's User-Agent."""
    async with aiohttp.ClientSession() as http:
        client = WhatsAppManager(BasicAuth("k", "s"), base_url=api.base_url, session=http)
        api.reply(200, {"deployment_id": DEP})
        await client.deployments.get(DEP)
    assert api.requests[0].headers["User-Agent"].startswith("wamanager/")


async def test_accept_and_authorization_headers(api: FakeAPI, client: WhatsAppManager) -> None:
    """Requests accept JSON and carry the auth's Authorization header."""
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    sent = api.requests[0]
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Authorization"] == client.session.auth.authorization()
    assert "Content-Type" not in sent.headers or not sent.body


def test_default_base_url_is_the_spec_server() -> None:
    """The default base URL is the spec's server URL."""
    assert load_spec()["servers"][0]["url"] == DEFAULT_BASE_URL
    assert WhatsAppManager(BasicAuth("k", "s")).base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize("suffix", ["", "/", "//"])
async def test_base_url_is_overridable(
    suffix: str, api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """base_url points the client elsewhere; trailing slashes are ignored."""
    client = make_client(base_url=api.base_url + suffix)
    assert client.base_url == api.base_url
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    assert api.requests[0].raw_path == f"{BASE_PATH}/deployments/{DEP}"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("has space", "has%20space"),
        ("q?x=1#frag", "q%3Fx%3D1%23frag"),
        ("100%", "100%25"),
        ("émoji-🐥", "%C3%A9moji-%F0%9F%90%A5"),
        ("...", "..."),
        ("a.b~c_d-e", "a.b~c_d-e"),
    ],
)
async def test_path_params_are_percent_encoded(
    value: str, encoded: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """Every path parameter reaches the server as quote(value, safe=""), decoding back to it."""
    api.reply(200, {"stickers": [{"id": "x"}]})
    await client.stickers.get(value, value, value)
    sent = api.requests[0]
    assert sent.raw_path == (
        f"{BASE_PATH}/deployments/{encoded}/stickerpacks/{encoded}/stickers/{encoded}"
    )
    assert sent.path == f"{BASE_PATH}/deployments/{value}/stickerpacks/{value}/stickers/{value}"


@pytest.mark.parametrize("bad", ["", None, 5, ".", ".."])
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, v: c.deployments.get(v), id="get"),
        pytest.param(lambda c, v: c.deployments.delete(v), id="delete"),
        pytest.param(lambda c, v: c.otp.verify(v, "123456"), id="verify"),
        pytest.param(lambda c, v: c.stickerpacks.get(DEP, v), id="pack"),
        pytest.param(lambda c, v: c.stickers.delete(DEP, "p", v), id="sticker"),
    ],
)
async def test_bad_path_param_raises_before_any_request(
    call: Any, bad: Any, api: FakeAPI, client: WhatsAppManager
) -> None:
    """An empty, non-string or dot-segment id raises ValidationError and sends nothing.

    ``.`` and ``..`` are not encoded by quote() and would be resolved by servers and proxies
    into another resource's path.
    """
    with pytest.raises(ValidationError) as caught:
        await call(client, bad)
    assert len(caught.value.fields) == 1
    assert api.requests == []


# --- lifecycle ---------------------------------------------------------------------------


async def test_use_after_close_raises_client_closed(api: FakeAPI, client: WhatsAppManager) -> None:
    """A closed client raises ClientClosed (also a RuntimeError) with a clear message."""
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    await client.close()
    await client.close()  # twice is fine
    with pytest.raises(ClientClosed, match=r"closed.*create a new one") as caught:
        await client.deployments.get(DEP)
    assert isinstance(caught.value, RuntimeError)
    with pytest.raises(ClientClosed):
        await client.with_options(timeout=1).deployments.get(DEP)
    assert client.session.closed
    assert len(api.requests) == 1


async def test_closing_a_copy_closes_the_client(api: FakeAPI, client: WhatsAppManager) -> None:
    """with_options copies share the lifecycle: closing one closes all."""
    await client.with_options(max_retries=0).close()
    with pytest.raises(ClientClosed):
        await client.deployments.get(DEP)


async def test_context_manager_closes_its_own_session(api: FakeAPI) -> None:
    """A client that made its aiohttp session closes it on exit."""
    async with WhatsAppManager(BasicAuth("k", "s"), base_url=api.base_url) as client:
        api.reply(200, {"deployment_id": DEP})
        await client.deployments.get(DEP)
        http = client.session._transport.http
        assert http is not None
        assert not http.closed
    assert http.closed


async def test_user_session_is_never_closed(api: FakeAPI) -> None:
    """A user-passed aiohttp session stays open after the client closes."""
    async with aiohttp.ClientSession() as http:
        async with WhatsAppManager(
            BasicAuth("k", "s"), base_url=api.base_url, session=http
        ) as client:
            api.reply(200, {"deployment_id": DEP})
            await client.deployments.get(DEP)
        assert not http.closed
        with pytest.raises(ClientClosed):
            await client.deployments.get(DEP)
        # The session still works for its owner.
        api.reply(200, {"ok": True})
        async with http.get(api.base_url + "/anything") as response:
            assert response.status == 200


async def test_user_session_closed_by_its_owner_raises_client_closed(api: FakeAPI) -> None:
    """A user session closed under the client raises ClientClosed, not a connection error."""
    http = aiohttp.ClientSession()
    client = WhatsAppManager(BasicAuth("k", "s"), base_url=api.base_url, session=http)
    await http.close()
    with pytest.raises(ClientClosed, match="given to this wamanager client"):
        await client.deployments.get(DEP)
    assert api.requests == []


async def test_session_rejects_non_auth() -> None:
    """An auth object without .authorization() raises ValidationError naming auth."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager("key:secret")  # type: ignore[arg-type]
    assert caught.value.fields == ("auth",)


# --- timeouts ----------------------------------------------------------------------------


@pytest.fixture
def sent_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientTimeout]:
    """The aiohttp timeout each request was sent with (aiohttp's request() is wrapped)."""
    seen: list[aiohttp.ClientTimeout] = []
    original = aiohttp.ClientSession.request

    def spy(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["timeout"])
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "request", spy)
    return seen


@pytest.mark.parametrize(
    ("given", "total", "connect"),
    [
        (Timeout(), 30.0, 10.0),
        (5, 5, 5),
        (42.0, 42.0, 10.0),
        (Timeout(total=12, connect=3), 12, 3),
        (None, None, None),
    ],
)
async def test_per_client_timeout(
    given: Any,
    total: float | None,
    connect: float | None,
    api: FakeAPI,
    make_client: Callable[..., WhatsAppManager],
    sent_timeouts: list[aiohttp.ClientTimeout],
) -> None:
    """The client's timeout becomes each request's aiohttp total and connect timeouts."""
    api.reply(200, {"deployment_id": DEP})
    await make_client(timeout=given).deployments.get(DEP)
    assert [(t.total, t.connect) for t in sent_timeouts] == [(total, connect)]


async def test_per_call_timeout_applies_to_that_call_only(
    api: FakeAPI,
    make_client: Callable[..., WhatsAppManager],
    sent_timeouts: list[aiohttp.ClientTimeout],
) -> None:
    """with_options(timeout=...) changes that copy's calls; the client keeps its own."""
    client = make_client(timeout=20)
    api.reply(200, {"deployment_id": DEP}, times=3)
    await client.with_options(timeout=1.5).deployments.get(DEP)
    await client.deployments.get(DEP)
    await client.with_options(timeout=Timeout(total=None, connect=2)).deployments.get(DEP)
    assert [(t.total, t.connect) for t in sent_timeouts] == [(1.5, 1.5), (20, 10), (None, 2)]


async def test_with_options_keeps_timeout_when_not_given(
    api: FakeAPI,
    make_client: Callable[..., WhatsAppManager],
    sent_timeouts: list[aiohttp.ClientTimeout],
) -> None:
    """with_options without timeout keeps the client's; timeout=None means no timeout."""
    client = make_client(timeout=7)
    api.reply(200, {"deployment_id": DEP}, times=2)
    await client.with_options(max_retries=0).deployments.get(DEP)
    await client.with_options(timeout=None).deployments.get(DEP)
    assert [t.total for t in sent_timeouts] == [7, None]


async def test_timeout_raises_request_timeout(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A request slower than its timeout raises RequestTimeout, also a builtin TimeoutError."""
    api.hang()
    client = make_client(timeout=0.05, max_retries=0)
    with pytest.raises(TimeoutError) as caught:
        await client.deployments.get(DEP)
    assert isinstance(caught.value, RequestTimeout)
    assert isinstance(caught.value, TransportError)
    assert "timed out" in str(caught.value)


async def test_timed_out_verify_is_not_resent(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """A verify that timed out (and may have been processed) is not sent again."""
    api.hang()
    client = make_client(max_retries=2).with_options(timeout=0.05)
    with pytest.raises(RequestTimeout):
        await client.otp.verify(DEP, "123456")
    assert len(api.requests) == 1
    assert sleeps.delays == []


# --- connection failures -----------------------------------------------------------------


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


# --- the shared rate limiter -------------------------------------------------------------


async def test_rate_limit_spaces_requests(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """rate_limit=2 makes the 2nd and 3rd requests wait about 0.5 s and 1 s."""
    client = make_client(rate_limit=2)
    api.reply(200, {"deployment_id": DEP}, times=3)
    for _ in range(3):
        await client.deployments.get(DEP)
    assert sleeps.delays == pytest.approx([0.5, 1.0], abs=0.1)


async def test_rate_limit_burst_lets_requests_through_at_once(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """rate_burst=3 lets three requests go without waiting."""
    client = make_client(rate_limit=1, rate_burst=3)
    api.reply(200, {"deployment_id": DEP}, times=3)
    for _ in range(3):
        await client.deployments.get(DEP)
    assert sleeps.delays == []


async def test_429_pauses_every_request_of_the_client(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """A 429 with Retry-After holds later requests of the client and its copies, unretried too."""
    client = make_client()
    api.reply(429, headers={"Retry-After": "5"})
    with pytest.raises(Throttled):
        await client.with_options(max_retries=0).deployments.get(DEP)
    assert sleeps.delays == []
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    assert sleeps.delays == pytest.approx([5.0], abs=0.1)


async def test_limiter_is_shared_by_copies(make_client: Callable[..., WhatsAppManager]) -> None:
    """with_options copies share one rate limiter."""
    client = make_client(rate_limit=3)
    assert client.with_options(timeout=1).session.limiter is client.session.limiter
    assert client.session.limiter.rate == 3


# --- logging -----------------------------------------------------------------------------


async def test_logs_one_debug_line_per_attempt_and_info_per_retry(
    api: FakeAPI, client: WhatsAppManager, caplog: pytest.LogCaptureFixture
) -> None:
    """Each attempt logs method, path and status at DEBUG; each retry logs at INFO."""
    caplog.set_level(logging.DEBUG, logger="wamanager")
    api.reply(503)
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    records = [r for r in caplog.records if r.name == "wamanager"]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    info = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert len(debug) == 2
    assert debug[0].startswith(f"GET /deployments/{DEP} -> 503 attempt=1")
    assert debug[1].startswith(f"GET /deployments/{DEP} -> 200 attempt=2")
    assert len(info) == 1
    assert "retrying" in info[0]
    assert "after 503 (attempt 1 of 3)" in info[0]


async def test_error_names_method_and_path(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """An API error's message starts with the method, path and status."""
    api.reply(500, {"title": "Internal Server Error", "detail": "boom"})
    with pytest.raises(ServerError) as caught:
        await make_client(max_retries=0).deployments.get(DEP)
    assert str(caught.value).startswith(f"GET /deployments/{DEP} -> 500 Internal Server Error")
    assert (caught.value.method, caught.value.path) == ("GET", f"/deployments/{DEP}")


# --- classifying transport failures ------------------------------------------------------


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
    got = _classify(exc)
    assert got is failure
    assert type(_transport_error(exc, got, "GET", "/x", 1.0)) is error_cls


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
