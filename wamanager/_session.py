"""The one place that does HTTP: :class:`Session` and its request loop.

:class:`Session` owns the base URL, the credentials, timeouts, retries, the adaptive rate
limit, redacted logging, JSON encoding and decoding, and the mapping of error responses to
exceptions. Resources call :meth:`Session.request` and never touch aiohttp themselves.

This module holds the request loop; each thing it uses has a module of its own beside it:

=====================  ==================================================================
``_options``           :class:`~wamanager.Timeout`, ``NOT_GIVEN``, every argument's check
``_connection``        what a session's copies share: the pool and its slots, credentials
``_encoding``          paths and bodies on the wire, response bodies read under the cap
``_failures``          what a failed attempt means (the error, and whether it is retryable)
``_retry``             whether and when to try again (pure)
``_ratelimit``         when the next request may go (the adaptive rate limit)
=====================  ==================================================================

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
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp
import anyio

from . import _constants as const
from ._auth import Auth
from ._checks import collect
from ._connection import APIConnection, RequestStats
from ._encoding import decode_json, encode_json, read_capped
from ._errors import FieldProblem, Throttled, ValidationError
from ._failures import Retryable, answer_failure, json_of, transport_failure
from ._options import (
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    CallOptions,
    NotGiven,
    Sleep,
    Timeout,
    base_url_problem,
    check_options,
)
from ._rate_control import RateControl
from ._ratelimit import RateLimiter
from ._retry import (
    REPLAY_SAFE_METHODS,
    RetryPolicy,
    retry_delay,
    should_retry,
    throttle_wait,
    within_throttle_budget,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Response", "Session"]

logger = logging.getLogger("wamanager")


class Response(NamedTuple):
    """A successful answer: its status and decoded JSON body (``None`` when empty)."""

    status: int
    data: Any


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
        base_url: str = const.DEFAULT_BASE_URL,
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
        problems: list[FieldProblem] = []
        if not isinstance(auth, Auth):
            problems.append(
                ("auth", "must be BasicAuth, JWTAuth, BearerToken or have .authorization()")
            )
        reason = base_url_problem(base_url)
        if reason is not None:
            problems.append(("base_url", reason))
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            problems.append(("session", "must be an aiohttp.ClientSession or None"))
        for name, value in (("sleep", sleep), ("rng", rng)):
            if not callable(value):
                problems.append((name, "must be callable"))
        limiter = collect(
            problems,
            lambda: RateLimiter(rate_limit, burst=rate_burst, control=rate_control, sleep=sleep),
        )
        options = collect(
            problems,
            lambda: check_options(timeout, retry, max_retries, throttle_budget, max_response_size),
        )
        if problems:
            raise ValidationError(problems, model="WhatsAppManager")
        assert limiter is not None  # both were made: no problem was found
        assert options is not None
        self._connection = APIConnection(auth, base_url.rstrip("/"), session, limiter, sleep, rng)
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
        return self._connection.auth

    @property
    def base_url(self) -> str:
        """The API root, without a trailing slash."""
        return self._connection.base_url

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter every copy of this session shares."""
        return self._connection.limiter

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._connection.closed

    @property
    def stats(self) -> RequestStats:
        """Requests and 429s so far, across every copy of this session."""
        return self._connection.stats

    def with_options(self, **options: Unpack[CallOptions]) -> Session:
        """A copy with other per-call options (:class:`~wamanager._options.CallOptions`),
        sharing this session's credentials, connections, rate limiter and lifecycle. Options
        not given are this session's."""
        checked = check_options(
            options.get("timeout", self.timeout),
            options.get("retry", self.retry),
            options.get("max_retries", NOT_GIVEN),
            options.get("throttle_budget", self.throttle_budget),
            options.get("max_response_size", self.max_response_size),
            model="with_options",
        )
        copy = object.__new__(Session)
        copy._connection = self._connection
        copy._set_options(*checked)
        return copy

    async def close(self) -> None:
        """Close the connection pool (unless it was passed in). Safe to call twice."""
        await self._connection.close()

    async def __aenter__(self) -> Session:
        self._connection.client()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
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

        A 429 is waited out (pausing every request of the client and lowering its rate, or,
        when 429s come at random whatever the rate, this request alone) for at most
        :attr:`throttle_budget` seconds, then raised as :class:`~wamanager.Throttled`. With
        ``local_throttle`` a 429 is a cool-down of this one resource (the OTP step of one
        deployment), not the account's limit: it is raised at once, its ``retry_after``
        jittered and capped, and the rate is left alone.

        Raises :class:`~wamanager.APIError` subclasses for error statuses,
        :class:`~wamanager.TransportError` when no answer came, and
        :class:`~wamanager.UnexpectedResponse` for a redirect, a body over the size
        cap, or a success without a JSON body.
        """
        method = method.upper()
        connection = self._connection
        url_path, url = connection.url(path, path_params)
        if params:
            url = url.with_query(params)
        safe = method in REPLAY_SAFE_METHODS if replay_safe is None else replay_safe
        data = None if json_body is None else encode_json(json_body)
        limiter = connection.limiter
        policy = self.retry
        failures = 0  # attempts that failed for other reasons than a 429
        throttled_since: float | None = None
        throttled_for = 0.0
        priority = False
        with_body = data is not None
        while True:
            http = connection.http
            if http is None or not connection.ready:
                http = connection.client()
            ticket = None if priority else limiter.try_acquire()
            if ticket is None:
                ticket = await limiter.acquire(priority=priority)
            slots = connection.slots
            slot_taken = accepted = False
            started = time.monotonic()
            try:
                # Per request, once the slot is ours: a JWT is re-signed before it expires.
                authorization = connection.auth.authorization()
                if authorization is connection.authorization:
                    headers = connection.header_sets[with_body]
                else:
                    headers = connection.headers_for(authorization, with_body)
                if slots is not None:
                    if not slots.try_take():
                        # A free connection first, then the attempt's timer: queueing for a
                        # pooled connection is not timed.
                        await slots.take()
                    slot_taken = True
                    started = time.monotonic()
                connection.stats.requests += 1
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
                        connection.stats.throttled += 1
                    answer_headers = response.headers
                    length = response.content_length
                    if (
                        length is not None
                        and length <= self.max_response_size
                        and "Content-Encoding" not in answer_headers
                    ):
                        body: bytes | None = await response.read()
                    else:
                        body = await read_capped(response, length, self.max_response_size)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                # Only network failures become TransportError; anything else is a bug and
                # must not be reported as "could not connect".
                failed = transport_failure(exc, method, url_path, started, failures + 1)
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
                        return Response(status, decode_json(body.decode()))
                    except ValueError:  # not UTF-8 JSON: a BOM, UTF-16… or no JSON at all
                        try:
                            return Response(status, json_of(method, url_path, status, body))
                        except Retryable as retryable:
                            failed = retryable
                else:
                    failed = answer_failure(
                        method, url_path, status, body, answer_headers, self.max_response_size
                    )
            finally:
                if slot_taken:
                    assert slots is not None
                    slots.give()
                limiter.done(accepted=accepted, ticket=ticket)
            if failed.status == 429:
                error = failed.error
                assert isinstance(error, Throttled)
                wait = throttle_wait(failed.retry_after, policy, connection.rng())
                error.retry_after = wait
                if local_throttle:
                    raise error from None
                alone = limiter.throttled(ticket, wait)
                now = time.monotonic()
                if throttled_since is None:
                    throttled_since = now
                spent = max(now - throttled_since, throttled_for)
                if not within_throttle_budget(spent=spent, wait=wait, budget=self.throttle_budget):
                    raise error from None
                throttled_for += wait
                priority = True  # first in line when the wait ends
                logger.info(
                    "%s %s throttled (429): %s waits %.2fs "
                    "(%.0fs of the %.0fs throttle budget used); rate now %.3g/s",
                    method,
                    url_path,
                    "this request (429s at the noise level)" if alone else "every request",
                    wait,
                    spent,
                    self.throttle_budget,
                    limiter.rate,
                )
                if alone > const.MIN_SLEEP:
                    await connection.sleep(alone)
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
                failures, policy, retry_after=failed.retry_after, random=connection.rng()
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
            await connection.sleep(delay)
