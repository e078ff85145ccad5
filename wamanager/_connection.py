"""The connection to the API that a session and its copies share, and its request slots.

:class:`APIConnection` owns what must be one per client whatever the per-call options: the
aiohttp pool (the client's own keeps :data:`~wamanager._constants.DEFAULT_POOL_SIZE`
connections, and never has more requests in flight than that: a request waits for one of its
:class:`RequestSlots` before its timer starts), the credentials and the headers built from
them, the URLs of the paths it has sent to, the rate limiter and the counters.
"""

from __future__ import annotations

import asyncio
import platform
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import attrs
import yarl

from . import _constants as const
from ._auth import Auth
from ._encoding import format_path
from ._errors import ClientClosed
from ._options import Sleep
from ._ratelimit import RateLimiter
from ._version import __version__

__all__ = ["USER_AGENT", "APIConnection", "RequestSlots", "RequestStats", "slots_for"]

#: ``User-Agent`` sent with every request.
USER_AGENT = (
    f"wamanager/{__version__} python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)


@attrs.define
class RequestStats:
    """What a client has sent so far (shared by its copies): for reports and monitoring."""

    #: HTTP attempts made (each retry counts).
    requests: int = 0
    #: Attempts answered 429.
    throttled: int = 0


class RequestSlots:
    """Requests in flight at once, at most ``size`` (the connection pool's size).

    A semaphore whose free path is a plain method call: every request takes a slot.
    Waiters are served in arrival order; a slot given back goes straight to the next one.
    """

    __slots__ = ("_waiters", "free")

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody waits for one."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting in line for one."""
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
        """Give a slot back: to the first waiter, or to the free ones."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


_URL_CACHE_SIZE = 4096


class APIConnection:
    """The connection to one API that a session and its ``with_options`` copies share.

    It holds the base URL and the credentials (with the headers built from them), the aiohttp
    pool (made on first use unless one was given) and its :class:`RequestSlots`, the rate
    limiter, the request counters, the lifecycle (closing it closes every copy), and the sleep
    and random source the retries use.
    """

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
        self.slots: RequestSlots | None = None
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
            self.slots = slots_for(http.connector)

    def client(self) -> aiohttp.ClientSession:
        """The aiohttp session to send with (made now on first use); ClientClosed once closed."""
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
            self.slots = RequestSlots(const.DEFAULT_POOL_SIZE)
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
            path = format_path(template, params) if params else template
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
        """Close the pool, unless it was given; every copy of the session is then closed."""
        if self.closed:
            return
        self.closed = True
        self.ready = False
        if self.owns_http and self.http is not None:
            await self.http.close()


def slots_for(connector: aiohttp.BaseConnector | None) -> RequestSlots | None:
    """Slots as many as a user's connector allows at once (None: no limit)."""
    if connector is None:
        return None
    limits = [n for n in (connector.limit, getattr(connector, "limit_per_host", 0)) if n]
    return RequestSlots(min(limits)) if limits else None
