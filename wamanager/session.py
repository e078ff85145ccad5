"""The one place that does HTTP.

:class:`Session` owns the base URL, the credentials, timeouts, retries, the client-side rate
limit, redacted logging, JSON encoding and decoding, and the mapping of error responses to
exceptions. Resources call :meth:`Session.request` and never touch aiohttp themselves.

Logging goes to the ``wamanager`` logger: one DEBUG line per attempt (method, path, status,
attempt, duration) and an INFO line per retry. Neither headers nor bodies are ever logged, so
no credential, token, OTP code, PIN or certificate can reach a log.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import platform
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio
import attrs
import yarl

from ._version import __version__
from .auth import Auth
from .errors import (
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
from .ratelimit import RateLimiter
from .retry import (
    REPLAY_SAFE_METHODS,
    Failure,
    RetryPolicy,
    parse_retry_after,
    retry_delay,
    should_retry,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "USER_AGENT",
    "NotGiven",
    "RequestStats",
    "Session",
    "Timeout",
]

logger = logging.getLogger("wamanager")

#: The production API.
DEFAULT_BASE_URL = "https://api.nexmo.com/v0.1/whatsapp-manager"
#: ``User-Agent`` sent with every request.
USER_AGENT = (
    f"wamanager/{__version__} python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)

Sleep = Callable[[float], Awaitable[None]]


class NotGiven(enum.Enum):
    """Type of :data:`NOT_GIVEN`: "use the default", distinct from ``None``."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: Sentinel for an argument that was not passed (where ``None`` means something).
NOT_GIVEN = NotGiven.NOT_GIVEN


@attrs.frozen
class Timeout:
    """Timeouts of one attempt, in seconds (``None`` waits forever).

    ``total`` bounds the whole attempt (connect, send, read); ``connect`` bounds getting a
    connection from the pool and opening it. A bare number passed where a ``Timeout`` is
    expected sets ``total``.
    """

    total: float | None = 30.0
    connect: float | None = 10.0

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        """Coerce a number (or ``None``) into a :class:`Timeout`."""
        if isinstance(value, Timeout):
            return value
        return cls(total=value, connect=None if value is None else min(value, 10.0))

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


class _Transport:
    """What every copy of a session shares: the connection pool, the limiter, the lifecycle."""

    def __init__(self, http: aiohttp.ClientSession | None, limiter: RateLimiter) -> None:
        self.http = http
        self.owns_http = http is None
        self.limiter = limiter
        self.closed = False
        self.stats = RequestStats()

    def client(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ClientClosed(
                "this wamanager client is closed; clients cannot be reopened, create a new one"
            )
        if self.http is None:
            # Created lazily: an aiohttp session must be made inside a running event loop.
            self.http = aiohttp.ClientSession()
        elif self.http.closed:
            raise ClientClosed(
                "the aiohttp.ClientSession given to this wamanager client was closed by its owner"
            )
        return self.http

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.owns_http and self.http is not None:
            await self.http.close()


def _format_path(template: str, params: Mapping[str, str]) -> str:
    problems: list[tuple[str, str]] = []
    for name, value in params.items():
        if not isinstance(value, str) or not value:
            problems.append((name, "must be a non-empty string"))
        elif value in (".", ".."):
            # quote() leaves dots alone, and servers resolve dot segments: "../x" would
            # address another resource.
            problems.append((name, "must not be '.' or '..'"))
    if problems:
        raise ValidationError(problems, model="path")
    return template.format_map({name: quote(value, safe="") for name, value in params.items()})


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


class Session:
    """HTTP for the WhatsApp Provisioning API: auth, timeouts, retries, rate limit, errors.

    ``session`` may be an :class:`aiohttp.ClientSession` you own; it is then used as it is
    and never closed here. Otherwise one is created on first use and closed by
    :meth:`close`. A closed session raises :class:`~wamanager.errors.ClientClosed`.

    ``sleep`` and ``rng`` are injectable so that tests never wait for real time.
    """

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        rate_limit: float | None = None,
        rate_burst: int = 1,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = anyio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not isinstance(auth, Auth):
            raise ValidationError(
                [("auth", "must be BasicAuth, JWTAuth, BearerToken or have .authorization()")],
                model="Session",
            )
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=max_retries)
        self.auth = auth
        self.base_url = base_url.rstrip("/")
        self.timeout = Timeout.of(timeout)
        self.retry = policy
        self._sleep = sleep
        self._rng = rng
        self._transport = _Transport(
            session, RateLimiter(rate_limit, burst=rate_burst, sleep=sleep)
        )

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
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> Session:
        """A copy with other timeouts or retries, sharing this session's connections,
        rate limiter and lifecycle."""
        copy = object.__new__(Session)
        copy.__dict__.update(self.__dict__)
        if not isinstance(timeout, NotGiven):
            copy.timeout = Timeout.of(timeout)
        policy = retry or self.retry
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=max_retries)
        copy.retry = policy
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
    ) -> Any:
        """Send a request, retrying transient failures, and return the decoded JSON body.

        ``path`` is a template (``"/deployments/{deployment_id}"``) filled from
        ``path_params``, each value percent-encoded; an empty value raises
        :class:`~wamanager.errors.ValidationError` before anything is sent. ``replay_safe``
        overrides the method's default (see :mod:`wamanager.retry`). Returns ``None`` for an
        empty body (204).

        Raises :class:`~wamanager.errors.APIError` subclasses for error statuses,
        :class:`~wamanager.errors.TransportError` when no answer came, and
        :class:`~wamanager.errors.UnexpectedResponse` for a success without a JSON body.
        """
        method = method.upper()
        url_path = _format_path(path, path_params or {})
        url = yarl.URL(self.base_url + url_path, encoded=True)
        if params:
            url = url.with_query(params)
        safe = method in REPLAY_SAFE_METHODS if replay_safe is None else replay_safe
        data = None if json_body is None else json.dumps(json_body, ensure_ascii=False)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(method, url, url_path, data, attempt)
            except _Retryable as failed:
                if not should_retry(
                    attempt=attempt,
                    max_retries=self.retry.max_retries,
                    failure=failed.failure,
                    status=failed.status,
                    replay_safe=safe,
                ):
                    if failed.status == 429 and failed.retry_after is not None:
                        # The server asked the whole client to hold off, whether or not this
                        # request is retried.
                        self.limiter.pause(min(failed.retry_after, self.retry.max_retry_after))
                    raise failed.error from failed.error.__cause__
                delay = retry_delay(
                    attempt, self.retry, retry_after=failed.retry_after, random=self._rng()
                )
                logger.info(
                    "retrying %s %s in %.2fs after %s (attempt %d of %d)",
                    method,
                    url_path,
                    delay,
                    failed.status or failed.failure.value,
                    attempt,
                    self.retry.max_retries + 1,
                )
                if failed.status == 429:
                    # Throttling holds the whole client, this request included: the pause is
                    # waited out by the next attempt's ``limiter.acquire()``, so it is waited
                    # once, on the limiter's clock (sleeping here too would wait twice whenever
                    # ``sleep`` is not the real one).
                    self.limiter.pause(delay)
                else:
                    await self._sleep(delay)

    async def _attempt(
        self, method: str, url: yarl.URL, url_path: str, data: str | None, attempt: int
    ) -> Any:
        http = self._transport.client()
        await self.limiter.acquire()
        # User-Agent per request: a session passed in by the user has its own defaults.
        headers = {
            "Authorization": self.auth.authorization(),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        self._transport.stats.requests += 1
        try:
            async with http.request(
                method, url, data=data, headers=headers, timeout=self.timeout.to_aiohttp()
            ) as response:
                text = await response.text()
                status = response.status
                response_headers = dict(response.headers)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            # Only network failures become TransportError; anything else is a bug and must
            # not be reported as "could not connect".
            failure = _classify(exc)
            elapsed = time.monotonic() - started
            logger.debug(
                "%s %s -> %s attempt=%d duration=%.3fs",
                method,
                url_path,
                type(exc).__name__,
                attempt,
                elapsed,
            )
            error = _transport_error(exc, failure, method, url_path, elapsed)
            error.__cause__ = exc
            if failure is None:
                raise error from exc
            raise _Retryable(failure, error) from exc
        logger.debug(
            "%s %s -> %d attempt=%d duration=%.3fs",
            method,
            url_path,
            status,
            attempt,
            time.monotonic() - started,
        )
        return self._decode(method, url_path, status, text, response_headers)

    def _decode(
        self, method: str, path: str, status: int, text: str, headers: Mapping[str, str]
    ) -> Any:
        try:
            data = json.loads(text) if text.strip() else None
            parsed = True
        except ValueError:
            data, parsed = None, False
        if 200 <= status < 300:
            if not parsed:
                error = UnexpectedResponse(
                    f"{method} {path} -> {status} with a body that is not JSON "
                    f"({len(text)} characters)",
                    status=status,
                    body=text,
                )
                raise _Retryable(Failure.MALFORMED, error)
            return data
        retry_after = parse_retry_after(headers.get("Retry-After"))
        api_error = error_from_response(
            status,
            data,
            body=text,
            method=method,
            path=path,
            headers=headers,
            retry_after=retry_after,
        )
        if isinstance(api_error, Throttled):
            self._transport.stats.throttled += 1
        if isinstance(api_error, Throttled) or status >= 500:
            raise _Retryable(Failure.STATUS, api_error, status=status, retry_after=retry_after)
        raise api_error


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
