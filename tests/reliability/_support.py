"""What the reliability suites share: a sandbox served with middlewares of the test in front,
a record of everything a run showed the outside world, and a search of it for secrets."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path

from aiohttp import web

from wamanager.sandbox import API_PREFIX, SandboxConfig, SandboxHandle, create_app
from wamanager.sandbox._runner import with_default_application

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve(
    config: SandboxConfig, *middlewares: Middleware, backlog: int = 128
) -> AsyncIterator[SandboxHandle]:
    """A sandbox on a free loopback port, ``middlewares`` in front of its own (first is
    outermost); ``backlog`` is the listening socket's queue of connections not yet accepted."""
    config, private = with_default_application(config)
    app = create_app(config)
    for middleware in reversed(middlewares):
        app.middlewares.insert(0, _as_middleware(middleware))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=backlog)
        await site.start()
        host, port = runner.addresses[0][:2]
        root = f"http://{host}:{port}"
        yield SandboxHandle(
            base_url=root + API_PREFIX,
            root_url=root,
            config=config,
            app=app,
            private_key_pem=private,
        )
    finally:
        await runner.cleanup()


def _as_middleware(call: Middleware) -> Middleware:
    # aiohttp marks its middlewares with an attribute, which callable objects may not take.
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await call(request, handler)

    return middleware


class HeaderRecorder:
    """A middleware that keeps every ``Authorization`` header value that reached the server."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        value = request.headers.get("Authorization")
        if value:
            self.values.add(value)
        return await handler(request)

    def tokens(self) -> set[str]:
        """The credentials themselves: each header value without its scheme."""
        return {value.partition(" ")[2] for value in self.values} - {""}


def error_texts(error: BaseException) -> list[str]:
    """Every way an exception can be shown: ``str``, ``repr``, ``args``, its attributes, the
    formatted traceback, and the same for each exception in its ``__cause__`` /
    ``__context__`` chain."""
    texts = ["".join(traceback.format_exception(type(error), error, error.__traceback__))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        texts.append(repr(getattr(current, "__dict__", {})))
        current = current.__cause__ or current.__context__
    return texts


class Exposure:
    """Everything a run showed the outside world, by where it showed it."""

    def __init__(self) -> None:
        self.shown: dict[str, list[bytes]] = {}

    def add(self, where: str, text: str | bytes) -> None:
        """Something shown as text (a log, a repr, an output) or bytes (a file)."""
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        self.shown.setdefault(where, []).append(data)

    def reprs(self, where: str, objects: Iterable[object]) -> None:
        """The ``repr()`` of each object."""
        for obj in objects:
            self.add(where, repr(obj))

    def error(self, where: str, error: BaseException) -> None:
        """An exception, every way it can be shown (:func:`error_texts`)."""
        for text in error_texts(error):
            self.add(where, text)

    def files(self, where: str, paths: Iterable[Path]) -> None:
        """The bytes of each file that exists (a journal and its ``-wal``, a report)."""
        for path in paths:
            if path.exists():
                self.add(f"{where} ({path.name})", path.read_bytes())

    def hits(self, secrets: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
        """``(where, which secret)`` for each secret found anywhere; empty when none is."""
        found = []
        for where, shown in self.shown.items():
            for name, values in secrets.items():
                needles = [v.encode("utf-8", "surrogatepass") for v in values if v]
                if any(needle in data for needle in needles for data in shown):
                    found.append((where, name))
        return found
