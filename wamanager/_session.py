"""The one place that does HTTP.

:class:`Session` owns the base URL, the credentials, timeouts, retries, the adaptive rate
limit, redacted logging, JSON encoding and decoding, and the mapping of error responses to
exceptions. Resources call :meth:`Session.request` and never touch aiohttp themselves.

Transport rules:

* **Redirects are never followed.** A 3xx answer raises
  :class:`~wamanager.UnexpectedResponse` naming its ``Location``: following it would
  send the credentials and the body (an OTP code, a vname certificate, a PIN) to wherever it
  points, and a 302 would turn a POST into a GET.
* **Bodies are capped** at ``max_response_size`` bytes once decoded (10 MiB by default); a
  larger one raises :class:`~wamanager.UnexpectedResponse` without being read whole.
* **Timeouts start when a request is sent.** A request first waits for its rate-limit slot
  and for a free connection of the pool (the client's own pool keeps 100, and never sends
  more requests at once than its pool holds), and only then starts its attempt timer, so a
  bulk run queueing thousands of calls does not time them out while they wait.
* **Path parameters that could change the route are refused** before sending: empty, ``.``
  or ``..``, or containing ``/``, ``?``, ``#``, control characters or lone surrogates.

Logging goes to the ``wamanager`` logger: one DEBUG line per attempt (method, path, status,
attempt, duration) and an INFO line per retry. Neither headers nor bodies are ever logged, so
no credential, token, OTP code, PIN or certificate can reach a log.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import math
import platform
import random
import re
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import quote

import aiohttp
import anyio
import attrs
import yarl

from . import _constants as const
from ._auth import Auth
from ._errors import (
    APIError,
    ClientClosed,
    ConnectionFailed,
    RequestTimeout,
    Throttled,
    TransportError,
    UnexpectedResponse,
    ValidationError,
    error_from_response,
)
from ._ratelimit import RateControl, RateLimiter
from ._retry import (
    REPLAY_SAFE_METHODS,
    Failure,
    RetryPolicy,
    parse_retry_after,
    retry_delay,
    should_retry,
    throttle_wait,
    within_throttle_budget,
)
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "USER_AGENT",
    "NotGiven",
    "RequestStats",
    "Response",
    "Session",
    "Timeout",
]

logger = logging.getLogger("wamanager")

#: The production API.
DEFAULT_BASE_URL = const.DEFAULT_BASE_URL
#: ``User-Agent`` sent with every request.
USER_AGENT = (
    f"wamanager/{__version__} python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)

Sleep = Callable[[float], Awaitable[None]]
Problems = list[tuple[str, str]]


class NotGiven(enum.Enum):
    """Type of :data:`NOT_GIVEN`: "use the default", distinct from ``None``."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: Sentinel for an argument that was not passed (where ``None`` means something).
NOT_GIVEN = NotGiven.NOT_GIVEN


def _seconds_problem(value: object) -> str | None:
    """Why ``value`` is not a usable number of seconds (> 0, finite, or None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number of seconds or None, not {type(value).__name__}"
    if not (math.isfinite(value) and value > 0):
        return f"must be > 0 seconds (None: no limit), not {value!r}"
    return None


def _check_seconds(instance: Timeout, attribute: attrs.Attribute[Any], value: object) -> None:
    reason = _seconds_problem(value)
    if reason is not None:
        raise ValidationError([(f"timeout.{attribute.name}", reason)], model="Timeout")


@attrs.frozen
class Timeout:
    """Timeouts of one attempt, in seconds (``None`` waits forever).

    ``total`` bounds the whole attempt (connect, send, read) from the moment it is sent:
    the wait for a rate-limit slot and for a free pooled connection comes before and is not
    counted. ``connect`` bounds opening a connection. A bare number passed where a
    ``Timeout`` is expected sets ``total`` (and ``connect``, up to 10 s). Values must be
    > 0 or ``None`` (:class:`~wamanager.ValidationError` otherwise).
    """

    total: float | None = attrs.field(default=const.DEFAULT_TOTAL_TIMEOUT, validator=_check_seconds)
    connect: float | None = attrs.field(
        default=const.DEFAULT_CONNECT_TIMEOUT, validator=_check_seconds
    )

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        """Coerce a number (or ``None``) into a :class:`Timeout`."""
        if isinstance(value, Timeout):
            return value
        reason = _seconds_problem(value)
        if reason is not None:
            raise ValidationError([("timeout", reason)], model="Timeout")
        if value is None:
            return cls(total=None, connect=None)
        return cls(total=value, connect=min(value, const.DEFAULT_CONNECT_TIMEOUT))

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """The matching :class:`aiohttp.ClientTimeout`."""
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect)


#: The default :class:`Timeout` of one attempt.
DEFAULT_TIMEOUT = Timeout()


@attrs.define
class RequestStats:
    """What a client has sent so far (shared by its copies): for reports and monitoring."""

    #: HTTP attempts made (each retry counts).
    requests: int = 0
    #: Attempts answered 429.
    throttled: int = 0


class Response(NamedTuple):
    """A successful answer: its status and decoded JSON body (``None`` when empty)."""

    status: int
    data: Any


# --- input checks --------------------------------------------------------------------------

#: Ids made of unreserved characters only (not starting with a dot) need no further work.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*").fullmatch
_ROUTE_CHANGING = re.compile(r"[/?#\x00-\x1f\x7f-\x9f\ud800-\udfff]").search


def _segment_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if value in (".", ".."):
        # quote() leaves dots alone, and servers resolve dot segments: ".." would address
        # another resource.
        return "must not be '.' or '..'"
    if _ROUTE_CHANGING(value):
        return "must not contain '/', '?', '#', control characters or lone surrogates"
    return None


def _format_path(template: str, params: Mapping[str, str]) -> str:
    for value in params.values():
        if type(value) is not str or not _PLAIN_SEGMENT(value):
            return _checked_path(template, params)
    return template.format_map(params)  # plainly safe ids: no quoting, no copy


def _checked_path(template: str, params: Mapping[str, str]) -> str:
    values: dict[str, str] = {}
    problems: Problems = []
    for name, value in params.items():
        if type(value) is str and _PLAIN_SEGMENT(value):
            values[name] = value
            continue
        reason = _segment_problem(value)
        if reason is None:
            values[name] = quote(value, safe="")
        else:
            problems.append((name, reason))
    if problems:
        raise ValidationError(problems, model="path")
    return template.format_map(values)


def _surrogate_field(value: Any, path: str = "body") -> str | None:
    """The path of the first string in a JSON value holding a lone surrogate."""
    if isinstance(value, str):
        return path if re.search("[\ud800-\udfff]", value) else None
    items: Any = ()
    if isinstance(value, Mapping):
        items = (
            (f"{path}.{key}" if path != "body" else str(key), item) for key, item in value.items()
        )
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    for where, item in items:
        found = _surrogate_field(item, where)
        if found is not None:
            return found
    return None


def _encode_json(body: Any) -> bytes:
    """The UTF-8 JSON of a request body; ValidationError (never quoting it) if impossible."""
    reason = None
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        reason = "contains a lone surrogate, which is not valid UTF-8"
    except (TypeError, ValueError) as exc:
        reason = f"is not JSON ({type(exc).__name__})"
    # Raised outside the except clause: the codec error holds the whole body (its secrets
    # included), and must not travel along as this exception's context.
    field = _surrogate_field(body) or "body"
    raise ValidationError([(field, reason)], model="request body")


def _base_url_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    try:
        url = yarl.URL(value)
    except (ValueError, TypeError):
        return "is not a URL"
    if url.scheme not in ("http", "https") or not url.host:
        return "must be an absolute http(s) URL with a host, e.g. " + const.DEFAULT_BASE_URL
    if url.user is not None or url.password is not None:
        return "must not carry credentials (pass auth= instead)"
    if url.query_string or url.fragment:
        return "must not have a query or a fragment"
    return None


def _count(value: object, field: str, *, minimum: int) -> Problems:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return [(field, f"must be an int of at least {minimum}")]
    return []


def _budget(value: object) -> Problems:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [("throttle_budget", f"must be a number of seconds, not {type(value).__name__}")]
    if not (math.isfinite(value) and value >= 0):
        return [("throttle_budget", f"must be >= 0 seconds, not {value!r}")]
    return []


def _collect(problems: Problems, check: Callable[[], Any]) -> Any:
    """Run ``check``; its ValidationError's fields join ``problems`` (then None is returned)."""
    try:
        return check()
    except ValidationError as exc:
        problems.extend(exc.errors)
        return None


# --- what every copy of a session shares ---------------------------------------------------


class _Slots:
    """Requests in flight at once, at most ``size`` (the connection pool's size).

    A semaphore whose free path is a plain method call: every request takes a slot.
    Waiters are served in arrival order; a slot given back goes straight to the next one.
    """

    __slots__ = ("_waiters", "free")

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot while being cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


_URL_CACHE_SIZE = 4096


class _Transport:
    """What every copy of a session shares: credentials, base URL, the connection pool and
    its slots, the rate limiter, the lifecycle, the sleep and the random source."""

    def __init__(
        self,
        auth: Auth,
        base_url: str,
        http: aiohttp.ClientSession | None,
        limiter: RateLimiter,
        sleep: Sleep,
        rng: Callable[[], float],
    ) -> None:
        self.auth = auth
        self.base_url = base_url
        self.http = http
        self.owns_http = http is None
        self.limiter = limiter
        self.sleep = sleep
        self.rng = rng
        self.closed = False
        self.stats = RequestStats()
        self.slots: _Slots | None = None
        self._plain_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        self._json_headers = {**self._plain_headers, "Content-Type": "application/json"}
        #: The Authorization value the header sets were built with, and the sets (without,
        #: with a JSON body); rebuilt only when the value changes (a re-signed JWT).
        self.authorization = ""
        self.header_sets = (self._plain_headers, self._json_headers)
        self._urls: dict[Any, tuple[str, yarl.URL]] = {}
        #: Whether ``http`` is our own open session (no need to check it per request).
        self.ready = False
        if http is not None:
            self.slots = _slots_for(http.connector)

    def client(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ClientClosed(
                "this wamanager client is closed; clients cannot be reopened, create a new one"
            )
        http = self.http
        if http is None:
            # Created lazily: an aiohttp session must be made inside a running event loop.
            # No cookie jar: the API is stateless, and cookies are one more thing to leak.
            connector = aiohttp.TCPConnector(limit=const.DEFAULT_POOL_SIZE)
            http = self.http = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
            self.slots = _Slots(const.DEFAULT_POOL_SIZE)
            self.ready = True
        elif http.closed:
            raise ClientClosed(
                "the aiohttp.ClientSession given to this wamanager client was closed by its owner"
            )
        return http

    def url(self, template: str, params: Mapping[str, str] | None) -> tuple[str, yarl.URL]:
        """The path (checked, encoded) and URL of a request, each built once per template
        and parameter values: watchers poll the same deployments over and over. The cache
        is bounded; past it, paths and URLs are built each time."""
        key: Any = (template, *params.values()) if params else template
        try:
            found = self._urls.get(key)
        except TypeError:  # an unhashable value: not an id (the check below says so)
            found = key = None
        if found is None:
            path = _format_path(template, params) if params else template
            found = (path, yarl.URL(self.base_url + path, encoded=True))
            if key is not None and len(self._urls) < _URL_CACHE_SIZE:
                self._urls[key] = found
        return found

    def headers_for(self, authorization: str, with_body: bool) -> dict[str, str]:
        """The headers of a request sent with ``authorization``. The dicts are kept and
        reused until the value changes; aiohttp never changes them. User-Agent is sent
        each time too, since a session passed in by the user has its own defaults."""
        self.authorization = authorization
        self.header_sets = (
            {**self._plain_headers, "Authorization": authorization},
            {**self._json_headers, "Authorization": authorization},
        )
        return self.header_sets[with_body]

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.ready = False
        if self.owns_http and self.http is not None:
            await self.http.close()


def _slots_for(connector: aiohttp.BaseConnector | None) -> _Slots | None:
    """Slots as many as a user's connector allows at once (None: no limit)."""
    if connector is None:
        return None
    limits = [n for n in (connector.limit, getattr(connector, "limit_per_host", 0)) if n]
    return _Slots(min(limits)) if limits else None


# --- classifying failures ------------------------------------------------------------------

#: aiohttp >= 3.10 tells a connect timeout from a read timeout.
_CONNECT_TIMEOUT: type[BaseException] | None = getattr(aiohttp, "ConnectionTimeoutError", None)


def _classify(exc: BaseException) -> Failure | None:
    """Map an aiohttp / asyncio failure to a retry :class:`Failure` (None: not transient)."""
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return None  # a certificate problem does not fix itself
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.CONNECT
    if _CONNECT_TIMEOUT is not None and isinstance(exc, _CONNECT_TIMEOUT):
        # No connection within the connect timeout: the request was never sent, so even a
        # non-replay-safe POST may be sent again (it is still reported as RequestTimeout).
        return Failure.CONNECT
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Failure.TIMEOUT
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
        return Failure.DISCONNECTED
    return None


async def _read_capped(
    response: aiohttp.ClientResponse, length: int | None, cap: int
) -> bytes | None:
    """A body too long by its Content-Length, compressed, or of unknown length: counted as
    decompression yields it, chunk by chunk. ``None`` (and the connection closed, the rest
    unread) as soon as it passes ``cap`` bytes. (The body the request loop reads at once is
    the usual one: a Content-Length within the cap, no encoding.)"""
    if length is None or length <= cap:
        chunks = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    response.close()
    return None


_decode_json = json.JSONDecoder().decode


def _json_of(method: str, url_path: str, status: int, body: bytes) -> Any:
    """JSON in another encoding than plain UTF-8 (a BOM, UTF-16…), as ``json`` detects it;
    ``_Retryable`` when the body is not JSON at all (cut short by a proxy, say)."""
    try:
        return json.loads(body)
    except ValueError:
        malformed = UnexpectedResponse(
            f"{method} {url_path} -> {status} with a body that is not JSON ({len(body)} bytes)",
            status=status,
            body=body.decode("utf-8", "replace"),
        )
        raise _Retryable(Failure.MALFORMED, malformed) from None


def _error(
    method: str, path: str, status: int, body: bytes, headers: Mapping[str, str]
) -> Exception:
    """The exception for an error status (a _Retryable for 429 and 5xx)."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    retry_after = parse_retry_after(headers.get("Retry-After"))
    api_error = error_from_response(
        status,
        data,
        body=text,
        method=method,
        path=path,
        headers=dict(headers),
        retry_after=retry_after,
    )
    if isinstance(api_error, Throttled) or status >= 500:
        return _Retryable(Failure.STATUS, api_error, status=status, retry_after=retry_after)
    return api_error


# --- the session ---------------------------------------------------------------------------


class Session:
    """HTTP for the WhatsApp Provisioning API: auth, timeouts, retries, rate control, errors.

    ``session`` may be an :class:`aiohttp.ClientSession` you own; it is then used as it is
    and never closed here (requests in flight are then bounded by its connector's limit).
    Otherwise one is created on first use, with a pool of 100 connections, and closed by
    :meth:`close`. A closed session raises :class:`~wamanager.ClientClosed`.

    ``sleep`` and ``rng`` are injectable so that tests never wait for real time. Every
    argument is checked here: a bad one raises :class:`~wamanager.ValidationError`
    naming it (all of them at once). See :class:`~wamanager.WhatsAppManager` for each one.
    """

    timeout: Timeout
    retry: RetryPolicy
    throttle_budget: float
    max_response_size: int

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_retries: int | NotGiven = NOT_GIVEN,
        rate_limit: float | None = None,
        rate_burst: int = 1,
        rate_control: RateControl | None = None,
        throttle_budget: float = const.DEFAULT_THROTTLE_BUDGET,
        max_response_size: int = const.DEFAULT_MAX_RESPONSE_SIZE,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = anyio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        problems: Problems = []
        if not isinstance(auth, Auth):
            problems.append(
                ("auth", "must be BasicAuth, JWTAuth, BearerToken or have .authorization()")
            )
        reason = _base_url_problem(base_url)
        if reason is not None:
            problems.append(("base_url", reason))
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            problems.append(("session", "must be an aiohttp.ClientSession or None"))
        for name, value in (("sleep", sleep), ("rng", rng)):
            if not callable(value):
                problems.append((name, "must be callable"))
        limiter = _collect(
            problems,
            lambda: RateLimiter(rate_limit, burst=rate_burst, control=rate_control, sleep=sleep),
        )
        options = _collect(
            problems,
            lambda: _options(timeout, retry, max_retries, throttle_budget, max_response_size),
        )
        if problems:
            raise ValidationError(problems, model="WhatsAppManager")
        self._transport = _Transport(auth, base_url.rstrip("/"), session, limiter, sleep, rng)
        self._set_options(*options)

    def _set_options(
        self, timeout: Timeout, retry: RetryPolicy, budget: float, max_response_size: int
    ) -> None:
        self.timeout = timeout
        self.retry = retry
        self.throttle_budget = float(budget)
        self.max_response_size = max_response_size
        # Built once: every attempt of every call reuses it.
        self._aiohttp_timeout = timeout.to_aiohttp()

    @property
    def auth(self) -> Auth:
        """The credentials every request is sent with."""
        return self._transport.auth

    @property
    def base_url(self) -> str:
        """The API root, without a trailing slash."""
        return self._transport.base_url

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter every copy of this session shares."""
        return self._transport.limiter

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._transport.closed

    @property
    def stats(self) -> RequestStats:
        """Requests and 429s so far, across every copy of this session."""
        return self._transport.stats

    def with_options(
        self,
        *,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        throttle_budget: float | NotGiven = NOT_GIVEN,
        max_response_size: int | NotGiven = NOT_GIVEN,
    ) -> Session:
        """A copy with other per-call options, sharing this session's credentials,
        connections, rate limiter and lifecycle. Options not given are this session's."""
        options = _options(
            self.timeout if isinstance(timeout, NotGiven) else timeout,
            self.retry if isinstance(retry, NotGiven) else retry,
            max_retries,
            self.throttle_budget if isinstance(throttle_budget, NotGiven) else throttle_budget,
            (
                self.max_response_size
                if isinstance(max_response_size, NotGiven)
                else max_response_size
            ),
            model="with_options",
        )
        copy = object.__new__(Session)
        copy._transport = self._transport
        copy._set_options(*options)
        return copy

    async def close(self) -> None:
        """Close the connection pool (unless it was passed in). Safe to call twice."""
        await self._transport.close()

    async def __aenter__(self) -> Session:
        self._transport.client()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Session(base_url={self.base_url!r}, auth={self.auth!r}, retry={self.retry!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        replay_safe: bool | None = None,
        local_throttle: bool = False,
    ) -> Response:
        """Send a request, retrying transient failures; returns the status and decoded body.

        ``path`` is a template (``"/deployments/{deployment_id}"``) filled from
        ``path_params``, each value percent-encoded; a value that is empty, ``.``/``..`` or
        holds ``/ ? #``, a control character or a lone surrogate raises
        :class:`~wamanager.ValidationError` before anything is sent. ``replay_safe``
        overrides the method's default (see :mod:`wamanager._retry`). The body is ``None``
        when empty (204).

        A 429 is waited out (pausing every request of the client, and lowering its rate)
        for at most :attr:`throttle_budget` seconds, then raised as
        :class:`~wamanager.Throttled`. With ``local_throttle`` a 429 is a cool-down
        of this one resource (the OTP step of one deployment), not the account's limit: it
        is raised at once, its ``retry_after`` jittered and capped, and the rate is left
        alone.

        Raises :class:`~wamanager.APIError` subclasses for error statuses,
        :class:`~wamanager.TransportError` when no answer came, and
        :class:`~wamanager.UnexpectedResponse` for a redirect, a body over the size
        cap, or a success without a JSON body.
        """
        method = method.upper()
        transport = self._transport
        url_path, url = transport.url(path, path_params)
        if params:
            url = url.with_query(params)
        safe = method in REPLAY_SAFE_METHODS if replay_safe is None else replay_safe
        data = None if json_body is None else _encode_json(json_body)
        limiter = transport.limiter
        policy = self.retry
        failures = 0  # attempts that failed for other reasons than a 429
        throttled_since: float | None = None
        throttled_for = 0.0
        priority = False
        with_body = data is not None
        while True:
            http = transport.http
            if http is None or not transport.ready:
                http = transport.client()
            ticket = None if priority else limiter.try_acquire()
            if ticket is None:
                ticket = await limiter.acquire(priority=priority)
            slots = transport.slots
            slot_taken = accepted = False
            started = time.monotonic()
            try:
                # Per request, once the slot is ours: a JWT is re-signed before it expires.
                authorization = transport.auth.authorization()
                if authorization is transport.authorization:
                    headers = transport.header_sets[with_body]
                else:
                    headers = transport.headers_for(authorization, with_body)
                if slots is not None:
                    if not slots.try_take():
                        # A free connection first, then the attempt's timer: queueing for a
                        # pooled connection is not timed.
                        await slots.take()
                    slot_taken = True
                    started = time.monotonic()
                transport.stats.requests += 1
                async with http.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    timeout=self._aiohttp_timeout,
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    accepted = status != 429
                    if not accepted:
                        transport.stats.throttled += 1
                    answer_headers = response.headers
                    length = response.content_length
                    if (
                        length is not None
                        and length <= self.max_response_size
                        and "Content-Encoding" not in answer_headers
                    ):
                        body: bytes | None = await response.read()
                    else:
                        body = await _read_capped(response, length, self.max_response_size)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                # Only network failures become TransportError; anything else is a bug and
                # must not be reported as "could not connect".
                failed = _transport_failure(exc, method, url_path, started, failures + 1)
            else:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s %s -> %d attempt=%d duration=%.3fs",
                        method,
                        url_path,
                        status,
                        failures + 1,
                        time.monotonic() - started,
                    )
                if body is not None and 200 <= status < 300:
                    if not body or body.isspace():
                        return Response(status, None)
                    try:
                        return Response(status, _decode_json(body.decode()))
                    except ValueError:  # not UTF-8 JSON: a BOM, UTF-16… or no JSON at all
                        try:
                            return Response(status, _json_of(method, url_path, status, body))
                        except _Retryable as retryable:
                            failed = retryable
                else:
                    failed = self._failure(method, url_path, status, body, answer_headers)
            finally:
                if slot_taken:
                    assert slots is not None
                    slots.give()
                limiter.done(accepted=accepted)
            if failed.status == 429:
                error = failed.error
                assert isinstance(error, Throttled)
                wait = throttle_wait(failed.retry_after, policy, transport.rng())
                error.retry_after = wait
                if local_throttle:
                    raise error from None
                limiter.throttled(ticket, wait)
                now = time.monotonic()
                if throttled_since is None:
                    throttled_since = now
                spent = max(now - throttled_since, throttled_for)
                if not within_throttle_budget(spent=spent, wait=wait, budget=self.throttle_budget):
                    raise error from None
                throttled_for += wait
                priority = True  # first in line when the pause ends
                logger.info(
                    "%s %s throttled (429): every request waits %.2fs "
                    "(%.0fs of the %.0fs throttle budget used); rate now %.3g/s",
                    method,
                    url_path,
                    wait,
                    spent,
                    self.throttle_budget,
                    limiter.rate,
                )
                continue
            failures += 1
            if not should_retry(
                attempt=failures,
                max_retries=policy.max_retries,
                failure=failed.failure,
                status=failed.status,
                replay_safe=safe,
            ):
                raise failed.error from failed.error.__cause__
            delay = retry_delay(
                failures, policy, retry_after=failed.retry_after, random=transport.rng()
            )
            logger.info(
                "retrying %s %s in %.2fs after %s (attempt %d of %d)",
                method,
                url_path,
                delay,
                failed.status or failed.failure.value,
                failures,
                policy.max_retries + 1,
            )
            priority = False
            await transport.sleep(delay)

    def _failure(
        self,
        method: str,
        url_path: str,
        status: int,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> _Retryable:
        """What an answer that is not a success means: a ``_Retryable`` (429, 5xx) is
        returned; anything else (a redirect, a body over the cap, 4xx) is raised."""
        if body is None:
            raise UnexpectedResponse(
                f"{method} {url_path} -> {status} with a body over the "
                f"{self.max_response_size}-byte cap (max_response_size); not read",
                status=status,
            )
        if status < 400:
            raise UnexpectedResponse(
                f"{method} {url_path} -> {status} redirect to "
                f"{headers.get('Location') or 'nowhere'}: "
                "wamanager never follows redirects (check base_url)",
                status=status,
            )
        error = _error(method, url_path, status, body, headers)
        if isinstance(error, _Retryable):
            return error
        raise error


def _transport_failure(
    exc: BaseException, method: str, path: str, started: float, attempt: int
) -> _Retryable:
    """A network failure as a ``_Retryable`` (raised at once if it is not transient)."""
    failure = _classify(exc)
    elapsed = time.monotonic() - started
    logger.debug(
        "%s %s -> %s attempt=%d duration=%.3fs",
        method,
        path,
        type(exc).__name__,
        attempt,
        elapsed,
    )
    error = _transport_error(exc, failure, method, path, elapsed)
    error.__cause__ = exc
    if failure is None:
        raise error from exc
    return _Retryable(failure, error)


def _options(
    timeout: float | Timeout | None,
    retry: RetryPolicy | None,
    max_retries: int | NotGiven,
    throttle_budget: float,
    max_response_size: int,
    *,
    model: str = "WhatsAppManager",
) -> tuple[Timeout, RetryPolicy, float, int]:
    """Check the per-call options; ValidationError naming every bad one."""
    problems: Problems = []
    checked_timeout = _collect(problems, lambda: Timeout.of(timeout))
    policy = retry
    if policy is None:
        policy = RetryPolicy()
    elif not isinstance(policy, RetryPolicy):
        problems.append(("retry", "must be a RetryPolicy or None"))
        policy = RetryPolicy()
    if not isinstance(max_retries, NotGiven):
        base = policy
        policy = _collect(problems, lambda: attrs.evolve(base, max_retries=max_retries))
    problems += _budget(throttle_budget)
    problems += _count(max_response_size, "max_response_size", minimum=1)
    if problems:
        raise ValidationError(problems, model=model)
    return checked_timeout, policy, throttle_budget, max_response_size


def _transport_error(
    exc: BaseException, failure: Failure | None, method: str, path: str, elapsed: float
) -> TransportError:
    if failure is Failure.TIMEOUT or isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return RequestTimeout(f"{method} {path} timed out after {elapsed:.1f}s")
    reason = str(exc) or type(exc).__name__
    return ConnectionFailed(f"{method} {path} failed: {reason}")


class _Retryable(Exception):
    """Internal: an attempt failed in a way that may deserve another attempt."""

    def __init__(
        self,
        failure: Failure,
        error: APIError | TransportError | UnexpectedResponse,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.error = error
        self.status = status
        self.retry_after = retry_after
