"""A fake of the API on a loopback port: it records every request and answers as told.

The fake is a real :mod:`aiohttp.web` server on 127.0.0.1, so a client's requests go through
aiohttp's real URL handling, timeouts and connection errors. aiohttp's server is imported
when the fake starts, never when :mod:`wamanager.testing` is imported.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

__all__ = ["BASE_PATH", "FakeAPI", "Handler", "Hold", "RecordedRequest", "Reply"]

#: The path the production base URL ends with; :attr:`FakeAPI.base_url` ends with it too.
BASE_PATH = "/v0.1/whatsapp-manager"


@attrs.frozen
class RecordedRequest:
    """One request the fake received, exactly as it arrived."""

    method: str
    #: The path as sent, still percent-encoded, without the query.
    raw_path: str
    #: The decoded path.
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON (raises :class:`ValueError` when it is not JSON)."""
        return json.loads(self.body)


@attrs.frozen
class Hold:
    """A held answer: ``arrived`` is set when its request comes, ``release`` lets it go."""

    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)
    release: asyncio.Event = attrs.field(factory=asyncio.Event)


#: What the fake does with a request: answer it, never answer (``hang``), close the
#: connection unanswered (``drop``), stream the body in chunks (``chunked``, ``gzip``), or
#: answer once a :class:`Hold` is released (``hold``).
Action = Literal["answer", "hang", "drop", "chunked", "gzip", "hold"]


@attrs.frozen
class Reply:
    """What the fake answers: a status, a body and headers, or a hang or a dropped connection.

    ``body`` is sent as it is; build a JSON reply with :meth:`with_json`.
    """

    status: int = 200
    body: str = ""
    headers: dict[str, str] = attrs.field(factory=dict)
    content_type: str = "application/json"
    action: Action = "answer"
    #: The hold that releases a ``"hold"`` reply.
    hold: Hold | None = None

    @classmethod
    def with_json(
        cls, data: Any = None, status: int = 200, *, headers: dict[str, str] | None = None
    ) -> Reply:
        """A reply whose body is ``data`` as JSON (an empty body when ``data`` is ``None``)."""
        body = "" if data is None else json.dumps(data)
        return cls(status, body, dict(headers or {}))


#: A function that answers a recorded request, plain or async.
Handler = Callable[[RecordedRequest], "Reply | Awaitable[Reply]"]


class FakeAPI:
    """A loopback fake of the API that records requests and answers them as told.

    Each request is answered by the next queued reply (:meth:`reply`, :meth:`hang`,
    :meth:`drop`, :meth:`hold`, :meth:`stream`); when none is queued, by ``handler`` (as
    httpx's ``MockTransport`` does); with neither, by a 418 that says so. Every request is
    recorded in :attr:`requests`, in order. Use it as an async context manager, or call
    :meth:`start` and :meth:`close`; point a client at :attr:`base_url`::

        async with FakeAPI(lambda request: Reply.with_json([])) as api:
            async with WhatsAppManager(base_url=api.base_url, auth=BasicAuth("k", "s")) as wam:
                assert await wam.deployments.list() == []
            assert api.requests[0].path.endswith("/deployments")
    """

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        #: Every request received, oldest first.
        self.requests: list[RecordedRequest] = []
        #: The replies still queued, next first.
        self.replies: deque[Reply] = deque()
        #: The base URL to give a client (empty until the fake has started).
        self.base_url = ""
        self._server: TestServer | None = None
        self._forever = asyncio.Event()

    def reply(
        self,
        status: int = 200,
        json_body: Any = None,
        *,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        times: int = 1,
    ) -> None:
        """Queue ``times`` identical answers: ``json_body`` as JSON, or ``text`` as it is."""
        body = text if text is not None else ("" if json_body is None else json.dumps(json_body))
        for _ in range(times):
            self.replies.append(Reply(status, body, dict(headers or {}), content_type))

    def hang(self) -> None:
        """Queue an answer that never comes (for timeouts)."""
        self.replies.append(Reply(action="hang"))

    def drop(self) -> None:
        """Queue a connection closed before any answer."""
        self.replies.append(Reply(action="drop"))

    def hold(self, status: int = 200, json_body: Any = None) -> Hold:
        """Queue an answer sent only once the returned hold is released."""
        hold = Hold()
        body = "" if json_body is None else json.dumps(json_body)
        self.replies.append(Reply(status, body, action="hold", hold=hold))
        return hold

    def stream(self, body: bytes, *, gzip_encoded: bool = False) -> None:
        """Queue a 200 sent in chunks without a Content-Length (gzip-encoded if asked)."""
        action: Action = "gzip" if gzip_encoded else "chunked"
        self.replies.append(Reply(200, body.decode("latin-1"), action=action))

    async def _next_reply(self, recorded: RecordedRequest) -> Reply | None:
        if self.replies:
            return self.replies.popleft()
        if self.handler is None:
            return None
        answer = self.handler(recorded)
        return await answer if inspect.isawaitable(answer) else answer

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        recorded = RecordedRequest(
            method=request.method,
            raw_path=request.raw_path.partition("?")[0],
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
        )
        self.requests.append(recorded)
        reply = await self._next_reply(recorded)
        if reply is None:
            return web.Response(status=418, text="the test queued no reply for this request")
        if reply.action == "hang":
            await self._forever.wait()
        if reply.action == "drop":
            assert request.transport is not None
            request.transport.abort()
            await self._forever.wait()
        if reply.action == "hold":
            assert reply.hold is not None
            reply.hold.arrived.set()
            await reply.hold.release.wait()
        if reply.action in ("chunked", "gzip"):
            return await self._stream(request, reply)
        if reply.status == 204:
            return web.Response(status=204, headers=reply.headers)
        return web.Response(
            status=reply.status,
            text=reply.body,
            headers=reply.headers,
            content_type=reply.content_type,
        )

    @staticmethod
    async def _stream(request: web.Request, reply: Reply) -> web.StreamResponse:
        from aiohttp import web

        payload = reply.body.encode("latin-1")
        headers = {"Content-Type": reply.content_type}
        if reply.action == "gzip":
            payload = gzip.compress(payload)
            headers["Content-Encoding"] = "gzip"
        stream = web.StreamResponse(status=reply.status, headers=headers)
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        for start in range(0, len(payload), 65536):
            await stream.write(payload[start : start + 65536])
        await stream.write_eof()
        return stream

    async def start(self) -> None:
        """Serve on a free loopback port and set :attr:`base_url`."""
        from aiohttp import web
        from aiohttp.test_utils import TestServer

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.base_url = str(self._server.make_url(BASE_PATH))

    async def close(self) -> None:
        """Stop serving (requests still hanging are cut off)."""
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def __aenter__(self) -> FakeAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
