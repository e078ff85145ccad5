"""Bad input: hypothesis throws values of every kind at every public constructor and method.

Each call either succeeds or raises ``ValidationError`` naming the field, before any request
is sent — never another exception type. A loopback server records every request that arrives
and answers each with a body that fits every response model, so that a call with good input
succeeds; a refused call must leave it untouched. Path parameters (deployment ids, pack ids,
sticker indexes) are drawn with ``/``, ``..``, ``?``, ``#``, ``%2F``, control characters,
lone surrogates and other unicode: one that is sent must arrive as one path segment of the
route it was meant for, holding exactly the value given.

The examples are derandomized (the same ones every run) and bounded, so the suite takes
seconds.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wamanager import (
    BasicAuth,
    BearerToken,
    DeploymentRequest,
    JWTAuth,
    OTPPolicy,
    OTPProgress,
    PollPolicy,
    Profile,
    RetryPolicy,
    Timeout,
    ValidationError,
    WhatsAppManager,
    provision,
    provision_many,
)
from wamanager._rate_control import RateControl
from wamanager._ratelimit import RateLimiter
from wamanager.sandbox._runner import _default_key_pair

API = "/v0.1/whatsapp-manager"
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: A body every response model parses: a deployment, sticker packs, stickers, a photo...
UNIVERSAL = {
    "deployment_id": "d",
    "current_state": {"title": "READY"},
    "stickerpacks": [{"id": "p"}],
    "stickers": [{"index": "0"}],
    "image_url": "https://cdn.example.com/a.png",
    "message": "ok",
    "status": "ok",
}

# --- strategies --------------------------------------------------------------------------

#: Pieces that change a route, or a server's idea of one, and other awkward text.
NASTY = st.sampled_from(
    [
        "/",
        "..",
        ".",
        "?",
        "#",
        "%2F",
        "%2f",
        "%2e%2e",
        "%00",
        "\x00",
        "\n",
        "\r",
        "\t",
        "\x7f",
        "\x85",
        "\ud800",
        "\udfff",
        "é",
        "🍞",
        "👍🏽",
        " ",
        "+",
        "&",
        "=",
        ";",
        ":",
        "@",
        "\\",
        "~",
        "-",
        "_",
        "a",
        "0",
        "deployments",
        "stickers",
    ]
)
#: Text made of those pieces and of any other characters.
AWKWARD = st.one_of(
    st.lists(st.one_of(NASTY, st.text(max_size=4)), max_size=6).map("".join), st.text()
)
#: Values of the wrong type where a string belongs.
NOT_TEXT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=4),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
TEXTS = st.one_of(AWKWARD, NOT_TEXT)
#: Anything a keyword argument could be given.
ANYTHING = st.one_of(
    NOT_TEXT,
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 0.5, 1e9, math.inf, -math.inf, math.nan, "1", True]),
)
DIGITS = st.text("0123456789", min_size=1, max_size=16)
URLS = st.one_of(
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}{path}",
        st.sampled_from(["https://", "http://", "ftp://", "", "//", "https:///"]),
        st.one_of(
            st.sampled_from(["cdn.example.com", "[::1]", "a:b@c", "h\u00e9.example"]), AWKWARD
        ),
        st.one_of(st.sampled_from(["/a.png", "/a.jpg", "/a.gif", "", "/a.png?x=1#y"]), AWKWARD),
    ),
    TEXTS,
)


def fields(
    names: Iterable[str], value: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Some of ``names`` (maybe none), each given a value drawn from ``value``."""
    return st.fixed_dictionaries({}, optional={name: value for name in names})


async def no_code(deployment: Any) -> None:
    """An OTP provider that never has a code."""


#: Polls at once: the loopback's deployment is READY from the first.
FAST = PollPolicy(interval=0.01)


# --- the loopback server -----------------------------------------------------------------


class Loopback:
    """Records every request that arrives; answers each with :data:`UNIVERSAL`."""

    def __init__(self) -> None:
        self.arrived: list[tuple[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.arrived.append((request.method, request.raw_path))
        if request.method == "DELETE":
            return web.Response(status=204)
        if request.path == API + "/deployments" and request.method == "GET":
            return web.json_response([UNIVERSAL])
        return web.json_response(UNIVERSAL)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Loopback, str]]:
    """The loopback server and its API root."""
    loopback = Loopback()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", loopback.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield loopback, f"http://{host}:{port}{API}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def wam(server: tuple[Loopback, str]) -> AsyncIterator[WhatsAppManager]:
    """A client of the loopback server that never retries (one request per call)."""
    async with WhatsAppManager(BasicAuth("key", "secret"), base_url=server[1], max_retries=0) as c:
        yield c


def names_only(error: ValidationError, allowed: Iterable[str]) -> None:
    """``error`` names at least one field, each one of ``allowed``, or an item or part of
    one (``websites[0]``, ``timeout.total``), and can be shown."""
    names = tuple(allowed)
    assert error.fields, "a ValidationError must name the field"
    for field in error.fields:
        base = field.split("[")[0]
        assert any(
            base == n or base.startswith(n + ".") or base.endswith("." + n) for n in names
        ), (
            error.fields,
            names,
        )
    str(error)


async def sent_or_refused(
    loopback: Loopback, call: Callable[[], Awaitable[Any]], allowed: Iterable[str]
) -> list[tuple[str, str]]:
    """Make ``call``: the requests it sent, or none when it raised a ``ValidationError``
    naming only ``allowed`` fields. Any other exception fails the test."""
    before = len(loopback.arrived)
    try:
        await call()
    except ValidationError as exc:
        refused = exc
    else:
        return loopback.arrived[before:]
    assert loopback.arrived[before:] == [], "a refused call sent a request"
    names_only(refused, allowed)
    return []


def check_route(arrived: list[tuple[str, str]], method: str, template: str, **values: str) -> None:
    """One request arrived, by ``method``, on the route ``template`` filled with ``values``:
    each value one whole path segment, percent-decoding back to exactly what was given."""
    assert len(arrived) == 1, arrived
    got_method, raw = arrived[0]
    assert got_method == method
    path = raw.split("?", 1)[0]
    expected = (API + template).split("/")
    segments = path.split("/")
    assert len(segments) == len(expected), (raw, template)
    for want, got in zip(expected, segments, strict=True):
        if want.startswith("{"):
            assert unquote(got, errors="surrogatepass") == values[want[1:-1]], (raw, values)
        else:
            assert got == want, (raw, template)


# --- path parameters ----------------------------------------------------------------------

ONE = "/deployments/{deployment_id}"
PACKS = ONE + "/stickerpacks"
STICKERS = PACKS + "/{stickerpack_id}/stickers"


@EXAMPLES
@given(deployment_id=TEXTS, pack_id=TEXTS, index=TEXTS, which=st.integers(0, 11))
async def test_path_parameters_are_refused_or_stay_on_their_route(
    server: tuple[Loopback, str],
    wam: WhatsAppManager,
    deployment_id: Any,
    pack_id: Any,
    index: Any,
    which: int,
) -> None:
    """Any id, pack id or sticker index: a ValidationError naming it, or one request on the
    intended route with the value as one segment."""
    loopback = server[0]
    d, p, i = deployment_id, pack_id, index
    calls: list[tuple[Callable[[], Awaitable[Any]], str, str, dict[str, Any]]] = [
        (lambda: wam.deployments.get(d), "GET", ONE, {"deployment_id": d}),
        (lambda: wam.deployments.delete(d), "DELETE", ONE, {"deployment_id": d}),
        (lambda: wam.otp.verify(d, "123456"), "POST", ONE + "/verify", {"deployment_id": d}),
        (lambda: wam.otp.resend(d), "POST", ONE + "/resend-otp", {"deployment_id": d}),
        (lambda: wam.profiles.get(d), "GET", ONE + "/profile", {"deployment_id": d}),
        (lambda: wam.profiles.get_photo(d), "GET", ONE + "/profile/photo", {"deployment_id": d}),
        (lambda: wam.stickerpacks.list(d), "GET", PACKS, {"deployment_id": d}),
        (
            lambda: wam.stickerpacks.get(d, p),
            "GET",
            PACKS + "/{stickerpack_id}",
            {"deployment_id": d, "stickerpack_id": p},
        ),
        (
            lambda: wam.stickers.list(d, p),
            "GET",
            STICKERS,
            {"deployment_id": d, "stickerpack_id": p},
        ),
        (
            lambda: wam.stickers.create(d, p, "media-1"),
            "POST",
            STICKERS,
            {"deployment_id": d, "stickerpack_id": p},
        ),
        (
            lambda: wam.stickers.get(d, p, i),
            "GET",
            STICKERS + "/{sticker_index}",
            {"deployment_id": d, "stickerpack_id": p, "sticker_index": i},
        ),
        (
            lambda: wam.stickers.delete(d, p, i),
            "DELETE",
            STICKERS + "/{sticker_index}",
            {"deployment_id": d, "stickerpack_id": p, "sticker_index": i},
        ),
    ]
    call, method, template, values = calls[which]
    arrived = await sent_or_refused(loopback, call, values)
    if arrived:
        check_route(arrived, method, template, **values)


@EXAMPLES
@given(namespace=TEXTS)
async def test_namespaces_are_refused_or_sent_as_a_query(
    server: tuple[Loopback, str], wam: WhatsAppManager, namespace: Any
) -> None:
    """Any namespace: a ValidationError naming it, or the list sent with it as the query."""
    loopback = server[0]
    arrived = await sent_or_refused(
        loopback, lambda: wam.stickerpacks.list("d", namespace=namespace), ["namespace"]
    )
    if arrived:
        check_route(arrived, "GET", PACKS, deployment_id="d")


# --- request bodies -----------------------------------------------------------------------

DEPLOYMENT_FIELDS = ("country_code", "number", "vname_certificate", "waba_id", "method", "pin")


@EXAMPLES
@given(
    values=fields(DEPLOYMENT_FIELDS, st.one_of(TEXTS, DIGITS, st.sampled_from(["sms", "voice"])))
)
async def test_deployment_requests(
    server: tuple[Loopback, str], wam: WhatsAppManager, values: dict[str, Any]
) -> None:
    """Any DeploymentRequest: created, or refused naming its fields (the constructor itself
    never raises)."""
    try:
        request = DeploymentRequest(**values)
    except TypeError:
        # A required argument left out: Python's own call check, before wamanager's code.
        assert not set(DEPLOYMENT_FIELDS[:4]) <= set(values)
        return
    loopback = server[0]
    sent = await sent_or_refused(
        loopback, lambda: wam.deployments.create(request), DEPLOYMENT_FIELDS
    )
    # In a bulk run the same request is either onboarded or reported invalid, unsent.
    before = len(loopback.arrived)
    report = await provision_many(wam, [request], otp=no_code, policy=FAST)
    assert report.counts == ({"ready": 1} if sent else {"invalid": 1})
    assert (len(loopback.arrived) > before) == bool(sent)


PROFILE_FIELDS = ("about", "address", "description", "email", "vertical", "websites")


@EXAMPLES
@given(
    values=fields(
        PROFILE_FIELDS,
        st.one_of(
            TEXTS,
            st.lists(URLS, max_size=3),
            st.sampled_from(["Restaurant", "Other", "restaurant", "b@example.com"]),
        ),
    ),
    url=URLS,
)
async def test_profiles_and_photo_urls(
    server: tuple[Loopback, str], wam: WhatsAppManager, values: dict[str, Any], url: Any
) -> None:
    """Any profile or photo URL: sent, or refused naming the fields."""
    loopback = server[0]
    profile = Profile(**values)
    await sent_or_refused(
        loopback, lambda: wam.profiles.update("d", profile), (*PROFILE_FIELDS, "profile")
    )
    await sent_or_refused(loopback, lambda: wam.profiles.update_photo("d", url), ["image_url"])


@EXAMPLES
@given(
    publisher=TEXTS,
    name=TEXTS,
    links=fields(("ios_app_store_link", "android_app_store_link"), URLS),
    image_data_id=TEXTS,
    emojis=st.one_of(
        st.lists(st.one_of(AWKWARD, st.sampled_from(["🍞", "👍🏽", "🇬🇧"])), max_size=4), TEXTS
    ),
    code=TEXTS,
    method=st.one_of(TEXTS, st.sampled_from(["sms", "voice", "SMS"])),
)
async def test_stickers_and_otp(
    server: tuple[Loopback, str],
    wam: WhatsAppManager,
    publisher: Any,
    name: Any,
    links: dict[str, Any],
    image_data_id: Any,
    emojis: Any,
    code: Any,
    method: Any,
) -> None:
    """Any sticker pack, sticker, OTP code or resend method: sent, or refused naming it."""
    loopback = server[0]
    await sent_or_refused(
        loopback,
        lambda: wam.stickerpacks.create("d", publisher, name, **links),
        ("publisher", "name", *links),
    )
    await sent_or_refused(
        loopback,
        lambda: wam.stickers.create("d", "p", image_data_id, emojis),
        ("image_data_id", "emojis"),
    )
    await sent_or_refused(loopback, lambda: wam.otp.verify("d", code), ["code"])
    await sent_or_refused(loopback, lambda: wam.otp.resend("d", method), ["method"])


# --- constructors: policies, client options, credentials ---------------------------------


def refused_or_made(
    make: Callable[..., Any], kwargs: dict[str, Any], allowed: Iterable[str]
) -> None:
    """``make(**kwargs)`` returns, or raises ValidationError naming only ``allowed`` fields."""
    try:
        make(**kwargs)
    except ValidationError as exc:
        names_only(exc, allowed)


def keywords(cls: Callable[..., Any], *skip: str) -> tuple[str, ...]:
    """The keyword parameters of ``cls``."""
    return tuple(name for name in inspect.signature(cls).parameters if name not in skip)


POLICIES: list[tuple[Callable[..., Any], tuple[str, ...]]] = [
    (PollPolicy, keywords(PollPolicy)),
    (OTPPolicy, keywords(OTPPolicy)),
    (RetryPolicy, keywords(RetryPolicy)),
    (RateControl, keywords(RateControl)),
    (Timeout, keywords(Timeout)),
    (OTPProgress, keywords(OTPProgress)),
]


@EXAMPLES
@given(which=st.integers(0, len(POLICIES) - 1), data=st.data())
def test_policies(which: int, data: st.DataObject) -> None:
    """Any value for any field of a policy: made, or refused naming the fields."""
    cls, names = POLICIES[which]
    kwargs = data.draw(fields(names, ANYTHING))
    refused_or_made(cls, kwargs, names)


#: What ``WhatsAppManager.from_env`` reads.
VARIABLES = (
    "VONAGE_APPLICATION_ID",
    "VONAGE_PRIVATE_KEY",
    "VONAGE_API_KEY",
    "VONAGE_API_SECRET",
    "WAMANAGER_BASE_URL",
)
CLIENT_OPTIONS = (
    "base_url",
    "timeout",
    "max_retries",
    "retry",
    "rate_limit",
    "rate_burst",
    "throttle_budget",
    "max_response_size",
    "session",
)


@EXAMPLES
@given(
    options=fields(CLIENT_OPTIONS, st.one_of(ANYTHING, URLS)),
    copy=fields(keywords(WhatsAppManager.with_options, "self"), ANYTHING),
    limiter=fields(("limit", "burst", "control"), ANYTHING),
)
def test_client_options(
    options: dict[str, Any], copy: dict[str, Any], limiter: dict[str, Any]
) -> None:
    """Any client option, ``with_options`` option or rate limiter setting: made, or refused
    naming them (the client made is never opened here, so nothing is sent)."""
    auth = BasicAuth("key", "secret")
    refused_or_made(lambda **kw: WhatsAppManager(auth, **kw), options, CLIENT_OPTIONS)
    refused_or_made(WhatsAppManager(auth).with_options, copy, copy)
    refused_or_made(RateLimiter, limiter, ("rate_limit", "rate_burst", "rate_control"))


@EXAMPLES
@given(
    key=TEXTS,
    secret=TEXTS,
    token=TEXTS,
    application_id=TEXTS,
    private_key=st.one_of(TEXTS, st.sampled_from(["pem", "pem-body", "pem-half"])),
    ttl=ANYTHING,
    environ=st.dictionaries(
        st.sampled_from(VARIABLES),
        st.one_of(AWKWARD, st.sampled_from(["pem", "http://127.0.0.1:9/v0.1"])),
    ),
)
def test_credentials(
    key: Any,
    secret: Any,
    token: Any,
    application_id: Any,
    private_key: Any,
    ttl: Any,
    environ: dict[str, str],
) -> None:
    """Any credentials, or variables for ``from_env``: made, or refused naming them."""
    pem = _default_key_pair()[0]
    keys = {"pem": pem, "pem-body": "".join(pem.splitlines()[1:-1]), "pem-half": pem[:500]}
    private_key = (
        keys.get(private_key, private_key) if isinstance(private_key, str) else private_key
    )
    environ = {name: keys.get(value, value) for name, value in environ.items()}
    refused_or_made(BasicAuth, {"api_key": key, "api_secret": secret}, ("api_key", "api_secret"))
    refused_or_made(BearerToken, {"token": token}, ("token",))
    refused_or_made(
        JWTAuth,
        {"application_id": application_id, "private_key": private_key, "ttl": ttl},
        ("application_id", "private_key", "ttl"),
    )
    refused_or_made(WhatsAppManager.from_env, {"environ": environ}, (*VARIABLES, "credentials"))


# --- watcher, provision and provision_many options ----------------------------------------

WATCH_OPTIONS = (
    "policy",
    "otp_policy",
    "resend_after",
    "max_resends",
    "max_verify_attempts",
    "fallback_to_voice",
    "clock",
    "progress",
    "method",
    "on_progress",
)


@EXAMPLES
@given(
    options=fields(WATCH_OPTIONS, ANYTHING),
    bulk=fields(
        ("concurrency", "progress_every", "profile", "photo_url"), st.one_of(ANYTHING, URLS)
    ),
    deployment_id=TEXTS,
)
async def test_watch_provision_and_bulk_options(
    server: tuple[Loopback, str],
    wam: WhatsAppManager,
    options: dict[str, Any],
    bulk: dict[str, Any],
    deployment_id: Any,
) -> None:
    """Any watcher option, deployment id or bulk option: refused naming them before any
    request, or accepted (the watch is made, not run; provision() runs against the loopback,
    whose deployment is READY at once; provision_many() gets no number)."""
    loopback = server[0]
    allowed = (
        *WATCH_OPTIONS,
        "deployment_id",
        *bulk,
        "profile",
        "image_url",
        "photo_url",
        "options",
    )

    async def watch() -> None:
        wam.watch(deployment_id, otp=no_code, **options)

    assert await sent_or_refused(loopback, watch, allowed) == []
    request = DeploymentRequest(
        country_code="44", number="7700900000", vname_certificate="c", waba_id="x"
    )
    quick = {**options, "policy": options.get("policy") or FAST}  # if accepted, polls at once
    await sent_or_refused(loopback, lambda: provision(wam, request, otp=no_code, **quick), allowed)
    await sent_or_refused(
        loopback, lambda: provision_many(wam, [], otp=no_code, **bulk, **options), allowed
    )
