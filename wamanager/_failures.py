"""What a failed attempt means: the error it raises, and whether it may be tried again.

One function per kind of failure, each a small pure mapping (apart from a DEBUG log line):
a network failure (:func:`transport_failure`, classified by :func:`classify`), an answer that
is not a success (:func:`answer_failure`: a redirect, a body over the cap, an error status),
and a success whose body is not JSON (:func:`json_of`). A failure that another attempt may
fix comes back as a :class:`Retryable`; the session's request loop then asks
:mod:`wamanager._retry` whether to make one. Anything else is raised at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from ._errors import (
    APIError,
    ConnectionFailed,
    RequestTimeout,
    Throttled,
    TransportError,
    UnexpectedResponse,
    error_from_response,
)
from ._retry import Failure, parse_retry_after

__all__ = [
    "Retryable",
    "answer_failure",
    "classify",
    "json_of",
    "transport_error",
    "transport_failure",
]

logger = logging.getLogger("wamanager")


class Retryable(Exception):
    """An attempt failed in a way that may deserve another attempt: what failed (for
    :func:`~wamanager._retry.should_retry`), the error to raise if none is made, and the
    status and ``Retry-After`` of an answer."""

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


# --- no answer -----------------------------------------------------------------------------

#: aiohttp >= 3.10 tells a connect timeout from a read timeout.
_CONNECT_TIMEOUT: type[BaseException] | None = getattr(aiohttp, "ConnectionTimeoutError", None)


def classify(exc: BaseException) -> Failure | None:
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


def transport_failure(
    exc: BaseException, method: str, path: str, started: float, attempt: int
) -> Retryable:
    """A network failure as a ``Retryable`` (raised at once if it is not transient)."""
    failure = classify(exc)
    elapsed = time.monotonic() - started
    logger.debug(
        "%s %s -> %s attempt=%d duration=%.3fs",
        method,
        path,
        type(exc).__name__,
        attempt,
        elapsed,
    )
    error = transport_error(exc, failure, method, path, elapsed)
    error.__cause__ = exc
    if failure is None:
        raise error from exc
    return Retryable(failure, error)


def transport_error(
    exc: BaseException, failure: Failure | None, method: str, path: str, elapsed: float
) -> TransportError:
    """The error a network failure is reported as: RequestTimeout or ConnectionFailed."""
    if failure is Failure.TIMEOUT or isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return RequestTimeout(f"{method} {path} timed out after {elapsed:.1f}s")
    reason = str(exc) or type(exc).__name__
    return ConnectionFailed(f"{method} {path} failed: {reason}")


# --- an answer that is not a success --------------------------------------------------------


def answer_failure(
    method: str,
    url_path: str,
    status: int,
    body: bytes | None,
    headers: Mapping[str, str],
    max_response_size: int,
) -> Retryable:
    """What an answer that is not a success means: a :class:`Retryable` (429, 5xx) is
    returned; anything else (a redirect, a body over the cap, 4xx) is raised."""
    if body is None:
        raise UnexpectedResponse(
            f"{method} {url_path} -> {status} with a body over the "
            f"{max_response_size}-byte cap (max_response_size); not read",
            status=status,
        )
    if status < 400:
        raise UnexpectedResponse(
            f"{method} {url_path} -> {status} redirect to "
            f"{headers.get('Location') or 'nowhere'}: "
            "wamanager never follows redirects (check base_url)",
            status=status,
        )
    error = _error_for_status(method, url_path, status, body, headers)
    if isinstance(error, Retryable):
        return error
    raise error


def _error_for_status(
    method: str, path: str, status: int, body: bytes, headers: Mapping[str, str]
) -> Exception:
    """The exception for an error status (a Retryable for 429 and 5xx)."""
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
        return Retryable(Failure.STATUS, api_error, status=status, retry_after=retry_after)
    return api_error


def json_of(method: str, url_path: str, status: int, body: bytes) -> Any:
    """JSON in another encoding than plain UTF-8 (a BOM, UTF-16…), as ``json`` detects it;
    ``Retryable`` when the body is not JSON at all (cut short by a proxy, say)."""
    try:
        return json.loads(body)
    except ValueError:
        malformed = UnexpectedResponse(
            f"{method} {url_path} -> {status} with a body that is not JSON ({len(body)} bytes)",
            status=status,
            body=body.decode("utf-8", "replace"),
        )
        raise Retryable(Failure.MALFORMED, malformed) from None
