"""The session: base URLs, lifecycle, timeouts, the shared rate limiter, logging, and what
with_options copies and shares."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import anyio
import pytest

from wamanager import (
    DEFAULT_BASE_URL,
    BasicAuth,
    ClientClosed,
    RequestTimeout,
    ServerError,
    Throttled,
    Timeout,
    TransportError,
    ValidationError,
    WhatsAppManager,
)
from wamanager._constants import DOUBLING_TIME
from wamanager.testing import BASE_PATH, FakeAPI, SleepRecorder

from ._support import DEP, load_spec

# --- base URLs ----------------------------------------------------------------------------


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
    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(client.deployments.get, DEP)
    # The sleeps return at once, but the limiter reads the real clock: the last request's
    # wait is 1.9 s less the real time that passed, and slow start has raised the rate by
    # that time's doubling share (x2 every DOUBLING_TIME of queueing), shortening each slot.
    elapsed = time.monotonic() - started
    shortest = (1.9 - elapsed) * 2 ** (-elapsed / DOUBLING_TIME)
    assert len(sleeps.delays) == 19
    assert shortest - 0.01 <= max(sleeps.delays) <= 1.9 + 0.01


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


# --- the timeout object -------------------------------------------------------------------


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


# --- with_options --------------------------------------------------------------------------


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


# --- rate control ----------------------------------------------------------------------------


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
