"""The session: headers, URLs, lifecycle, timeouts, transport errors, rate limit, logging."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import anyio
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
    UnexpectedResponse,
    ValidationError,
    WhatsAppManager,
)
from wamanager._connection import USER_AGENT, RequestSlots
from wamanager._failures import classify, transport_error
from wamanager._retry import Failure
from wamanager.testing import BASE_PATH, FakeAPI, SleepRecorder

from ._support import DEP, load_spec, refused_url

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
        ("has space", "has%20space"),
        ("x=1&y", "x%3D1%26y"),
        ("100%", "100%25"),
        (".hidden", ".hidden"),
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


@pytest.mark.parametrize(
    "bad",
    [
        "",
        None,
        5,
        ["x"],
        ".",
        "..",
        "a/b",
        "/",
        "?x",
        "q?x=1",
        "#frag",
        "a\x00b",
        "a\nb",
        "\x7f",
        "\x85",
    ],
)
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
    """An id that is empty, not a string, a dot segment, or holds / ? # or a control character
    raises ValidationError naming the parameter, and sends nothing.

    ``.`` and ``..`` are not encoded by quote() and would be resolved by servers and proxies
    into another resource's path; the others would change the route once decoded.
    """
    with pytest.raises(ValidationError) as caught:
        await call(client, bad)
    assert len(caught.value.fields) == 1
    assert caught.value.fields[0] in ("deployment_id", "stickerpack_id", "sticker_index")
    if isinstance(bad, str) and len(bad) > 2:
        assert bad not in str(caught.value)  # the value is never quoted back
    assert api.requests == []


async def test_lone_surrogate_id_raises_validation_error(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """An id holding a lone surrogate (not encodable) is refused, not a UnicodeEncodeError."""
    with pytest.raises(ValidationError) as caught:
        await client.deployments.get("dep-\ud800")
    assert caught.value.fields == ("deployment_id",)
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
        http = client.session._connection.http
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
        await client.with_options(throttle_budget=0).deployments.get(DEP)
    assert sleeps.delays == []
    api.reply(200, {"deployment_id": DEP})
    await client.deployments.get(DEP)
    assert sleeps.delays == pytest.approx([5.0], abs=0.1)


async def test_limiter_is_shared_by_copies(make_client: Callable[..., WhatsAppManager]) -> None:
    """with_options copies share one rate limiter."""
    client = make_client(rate_limit=3)
    assert client.with_options(timeout=1).session.limiter is client.session.limiter
    assert client.session.limiter.rate == 3


async def test_default_client_starts_gently(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager], sleeps: SleepRecorder
) -> None:
    """With no rate_limit, the first requests are spaced at 10/s, never sent as a herd."""
    client = make_client(rate_limit=None)
    api.reply(200, {"deployment_id": DEP}, times=20)
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(client.deployments.get, DEP)
    assert len(sleeps.delays) == 19
    assert sorted(sleeps.delays)[-1] == pytest.approx(1.9, abs=0.05)


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


# --- redirects, size cap, connection pool ------------------------------------------------


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


async def test_body_over_the_cap_is_refused(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A body longer than max_response_size raises UnexpectedResponse, not retried."""
    client = make_client(max_response_size=1000)
    api.reply(200, {"deployment_id": DEP, "padding": "x" * 2000})
    with pytest.raises(UnexpectedResponse) as caught:
        await client.deployments.get(DEP)
    assert caught.value.status == 200
    assert "1000-byte cap" in str(caught.value)
    assert len(api.requests) == 1


@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["chunked", "gzip"])
async def test_streamed_body_over_the_cap_is_refused(
    gzip_encoded: bool, api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """Without a Content-Length, or compressed, the decoded size is counted as it arrives."""
    client = make_client(max_response_size=100_000)
    body = json.dumps({"deployment_id": DEP, "padding": "x" * 300_000}).encode()
    api.stream(body, gzip_encoded=gzip_encoded)
    with pytest.raises(UnexpectedResponse, match="cap"):
        await client.deployments.get(DEP)


@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["chunked", "gzip"])
async def test_streamed_body_within_the_cap_is_read(
    gzip_encoded: bool, api: FakeAPI, client: WhatsAppManager
) -> None:
    """A chunked or gzip body under the cap (10 MiB by default) parses as usual."""
    body = json.dumps({"deployment_id": DEP, "padding": "x" * 300_000}).encode()
    api.stream(body, gzip_encoded=gzip_encoded)
    assert (await client.deployments.get(DEP)).deployment_id == DEP


async def test_queueing_for_a_pooled_connection_is_not_timed(api: FakeAPI) -> None:
    """With a one-connection pool, a second call starts its attempt (and its timer) only
    once the first has its answer; the attempt timeout never counts the queueing."""
    started: list[str] = []
    original = aiohttp.ClientSession.request

    def spy(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        started.append(str(url))
        return original(self, method, url, **kwargs)

    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = WhatsAppManager(
            BasicAuth("k", "s"), base_url=api.base_url, session=http, timeout=5
        )
        held = api.hold(200, {"deployment_id": DEP})
        api.reply(200, {"deployment_id": DEP})
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(aiohttp.ClientSession, "request", spy)
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.deployments.get, DEP)
                tg.start_soon(client.deployments.get, DEP)
                await held.arrived.wait()
                await anyio.wait_all_tasks_blocked()
                assert len(started) == 1  # the second waits for the connection, untimed
                held.release.set()
        assert len(started) == 2
        assert len(api.requests) == 2


async def test_own_pool_is_sized_for_bulk(client: WhatsAppManager) -> None:
    """The client's own pool keeps 100 connections and lets 100 requests fly at once."""
    async with client:
        http = client.session._connection.client()
        assert http.connector is not None
        assert http.connector.limit == 100
        slots = client.session._connection.slots
        assert slots is not None
        assert slots.free == 100


@pytest.mark.parametrize(("limit", "per_host", "slots"), [(7, 0, 7), (10, 3, 3), (0, 0, None)])
async def test_a_user_pool_bounds_requests_in_flight(
    limit: int, per_host: int, slots: int | None, api: FakeAPI
) -> None:
    """With a session of yours, requests in flight follow its connector's limits."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = WhatsAppManager(BasicAuth("k", "s"), base_url=api.base_url, session=http)
        semaphore = client.session._connection.slots
        assert (None if semaphore is None else semaphore.free) == slots


async def test_timeout_object_is_built_once(
    api: FakeAPI,
    client: WhatsAppManager,
    sent_timeouts: list[aiohttp.ClientTimeout],
) -> None:
    """Every attempt of a client reuses one aiohttp.ClientTimeout."""
    api.reply(200, {"deployment_id": DEP}, times=2)
    await client.deployments.get(DEP)
    await client.deployments.get(DEP)
    assert sent_timeouts[0] is sent_timeouts[1]


# --- checking what the client is given ---------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "api.nexmo.com/v0.1/whatsapp-manager",
        "ftp://api.nexmo.com/x",
        "https://",
        "http:///path-only",
        "https://api.nexmo.com/v0.1?x=1",
        "https://api.nexmo.com/v0.1#frag",
        5,
    ],
)
def test_base_url_is_checked_at_construction(base_url: Any) -> None:
    """A base URL without an http(s) scheme and a host raises ValidationError at once."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s"), base_url=base_url)
    assert caught.value.fields == ("base_url",)


def test_base_url_with_credentials_is_refused_without_quoting_them() -> None:
    """user:password@ in the base URL is refused, and the password is not echoed."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s"), base_url="https://me:hunter22@api.example.com/x")
    assert caught.value.fields == ("base_url",)
    assert "hunter22" not in str(caught.value)
    assert "hunter22" not in repr(caught.value.args)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"max_retries": None}, "max_retries"),
        ({"retry": {"max_retries": 1}}, "retry"),
        ({"rate_limit": -5}, "rate_limit"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_burst": 0}, "rate_burst"),
        ({"rate_burst": True}, "rate_burst"),
        ({"throttle_budget": -1}, "throttle_budget"),
        ({"throttle_budget": math.inf}, "throttle_budget"),
        ({"max_response_size": 0}, "max_response_size"),
        ({"max_response_size": 1.5}, "max_response_size"),
        ({"session": "aiohttp"}, "session"),
        ({"sleep": 5}, "sleep"),
        ({"rng": None}, "rng"),
    ],
)
def test_bad_client_arguments_raise_validation_error(kwargs: dict[str, Any], field: str) -> None:
    """Every bad constructor argument raises ValidationError naming it, before any request."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s"), **kwargs)
    assert caught.value.fields == (field,)


def test_every_bad_argument_is_listed_at_once() -> None:
    """Several bad arguments are reported together, in one ValidationError."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(
            BasicAuth("k", "s"), base_url="nope", timeout=0, rate_burst=0, max_response_size=-1
        )
    assert set(caught.value.fields) == {"base_url", "timeout", "rate_burst", "max_response_size"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"retry": "fast"}, "retry"),
        ({"throttle_budget": -0.5}, "throttle_budget"),
        ({"max_response_size": 0}, "max_response_size"),
    ],
)
def test_bad_with_options_raise_validation_error(kwargs: dict[str, Any], field: str) -> None:
    """with_options checks its options as the constructor does."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s")).with_options(**kwargs)
    assert caught.value.fields == (field,)


@pytest.mark.parametrize(
    ("timeout", "field"),
    [({"total": 0}, "timeout.total"), ({"connect": -1.0}, "timeout.connect")],
)
def test_timeout_values_must_be_positive(timeout: dict[str, Any], field: str) -> None:
    """Timeout(total=0) or a negative connect raises ValidationError: 0 is not "no timeout"."""
    with pytest.raises(ValidationError) as caught:
        Timeout(**timeout)
    assert caught.value.fields == (field,)


def test_with_options_inherits_what_it_is_not_given() -> None:
    """A copy keeps every option it is not given, and changes only the ones it is."""
    client = WhatsAppManager(
        BasicAuth("k", "s"),
        timeout=7,
        max_retries=4,
        throttle_budget=30,
        max_response_size=5000,
    )
    copy = client.with_options(max_retries=0)
    assert copy.session.timeout == Timeout.of(7)
    assert copy.session.retry.max_retries == 0
    assert (copy.session.throttle_budget, copy.session.max_response_size) == (30.0, 5000)
    again = copy.with_options(timeout=None)
    assert again.session.timeout == Timeout(total=None, connect=None)
    assert again.session.retry.max_retries == 0
    assert client.session.retry.max_retries == 4


def test_with_options_shares_pool_limiter_and_scheduler() -> None:
    """Copies share the original's transport, rate limiter and poll scheduler."""
    client = WhatsAppManager(BasicAuth("k", "s"))
    copy = client.with_options(timeout=3).with_options(max_retries=1)
    assert copy.session._connection is client.session._connection
    assert copy.session.limiter is client.session.limiter
    assert copy.scheduler is client.scheduler
    assert copy.base_url == client.base_url
    assert copy.session.auth is client.session.auth


# --- request bodies ------------------------------------------------------------------------


async def test_unencodable_body_is_a_validation_error_without_the_body(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """A lone surrogate in a body field raises ValidationError naming the field, never the value."""
    with pytest.raises(ValidationError) as caught:
        await client.otp.verify(DEP, "8531\udc0006")
    error = caught.value
    assert error.fields == ("code",)
    assert "8531" not in str(error)
    assert "8531" not in repr(error.args)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert api.requests == []


# --- pool slots ----------------------------------------------------------------------------


async def test_slots_serve_waiters_in_order() -> None:
    """Past the pool's size, takers wait and get freed slots in arrival order."""
    slots = RequestSlots(1)
    await slots.take()
    order: list[str] = []

    async def taker(name: str) -> None:
        await slots.take()
        order.append(name)
        slots.give()

    async with anyio.create_task_group() as tg:
        tg.start_soon(taker, "a")
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(taker, "b")
        await anyio.wait_all_tasks_blocked()
        assert order == []
        slots.give()
    assert order == ["a", "b"]
    assert slots.free == 1


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    """A taker cancelled while waiting leaves the queue; the slot goes to the next one."""
    slots = RequestSlots(1)
    await slots.take()
    got: list[str] = []

    async def taker(name: str) -> None:
        await slots.take()
        got.append(name)

    async with anyio.create_task_group() as tg:
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(taker, "cancelled")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(taker, "next")
            await anyio.wait_all_tasks_blocked()
            doomed.cancel_scope.cancel()
        slots.give()
    assert got == ["next"]
    assert slots.free == 0


async def test_a_slot_handed_to_a_cancelled_waiter_is_passed_on() -> None:
    """A slot given to a waiter that is cancelled before it runs is not lost."""
    slots = RequestSlots(1)
    await slots.take()
    loop = asyncio.get_running_loop()
    waiting = loop.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to the waiter ...
    waiting.cancel()  # ... which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert slots.free == 1
    assert slots.try_take()


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


@pytest.mark.parametrize(
    ("body", "field"),
    [({"tags": {1, 2}}, "body"), ({"score": math.nan}, "body"), ({"a": ["x", "\udfff"]}, "a[1]")],
)
async def test_a_body_that_is_not_json_is_refused_before_sending(
    body: Any, field: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """A set, a NaN or a lone surrogate in a request body raises ValidationError, unsent."""
    with pytest.raises(ValidationError) as caught:
        await client.session.request("POST", "/deployments", json_body=body)
    assert caught.value.fields == (field,)
    assert api.requests == []


async def test_rate_control_sets_the_limiters_floor(
    make_client: Callable[..., WhatsAppManager],
) -> None:
    """rate_control= reaches the shared limiter (a copy shares it); a bad one is refused."""
    from wamanager import RateControl, ValidationError

    wam = make_client(rate_control=RateControl(min_rate=25.0))
    assert wam.session.limiter.control.min_rate == 25.0
    assert wam.with_options(timeout=5).session.limiter is wam.session.limiter
    with pytest.raises(ValidationError) as caught:
        make_client(rate_control="fast")
    assert "rate_control" in caught.value.fields
